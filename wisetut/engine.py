"""One training loop for every method (Appendix C's algorithm with any objective).

:func:`train` fits an :class:`~wisetut.models.AutoEncoder` with a :class:`~wisetut.methods.Method`:
Adam per parameter group, random mini-batches, a per-epoch :class:`History` on training and held-out
data, and a checkpoint after every epoch (:mod:`wisetut.checkpoints` identifies the run and refuses
any other). Data may be float32 or uint8 images (scaled on the device); a rate may be a
:class:`~wisetut.schedule.StepLR` (Appendix D.3).

Each epoch re-seeds the RNGs from ``(seed, epoch)``, so a resumed run draws the batches and noise of
an uninterrupted one and ends with the same parameters (bit for bit on the CPU, one thread).
Under ``torchrun`` the same call trains over several processes (:mod:`wisetut.distributed`), with
the batch-coupled terms over the global batch: the one-process run, up to the order of float sums.
"""

from __future__ import annotations

import math
import time
from contextlib import ExitStack, contextmanager, nullcontext
from pathlib import Path

import torch
from torch import Tensor
from tqdm.auto import tqdm

from wisetut import checkpoints, distributed
from wisetut.checkpoints import CheckpointError
from wisetut.checks import check_count
from wisetut.data.images import as_float_batch
from wisetut.malloc import reuse_freed_memory
from wisetut.methods import Forward, Method
from wisetut.models.base import AutoEncoder, eval_mode
from wisetut.objectives import aevb_kl, wise_kl_metric
from wisetut.outputs import pick_device
from wisetut.results import History, TrainResult
from wisetut.schedule import lr_factor, schedule_key

__all__ = [
    "train",
    "train_step",
    "step_metrics",
    "make_adam",
    "evaluate",
    "check_data",
    "TrainResult",
    "History",
    "CheckpointError",
]

# On a CPU every run trains with one intra-op thread, however it is launched (in a notebook, in a pool of
# worker processes, from the command line): float sums then happen in one order, so the same run gives the
# same bits whichever way it was trained. Several runs at once use several processes (train_methods(workers=)).
CPU_THREADS = 1
_TRAIN_METRICS = ("recon", "aevb_kl", "wise_kl", "loss", "elbo")
DATA_DTYPES = (torch.float32, torch.uint8)


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7_919 + 17) % (2**63 - 1)


def check_data(x, name: str) -> None:
    """Raise unless ``x`` can be trained or evaluated on: a non-empty float32 or uint8 tensor, finite.

    Other dtypes are refused, not converted: float64 or float16 data would otherwise meet float32
    weights deep inside the network (or be rounded without a word); convert with ``x.float()``.
    NaN or infinite values are found here, before the first step, by one sum over the data; uint8
    images are finite by construction.

    Raises:
        TypeError: for anything but a ``torch.Tensor`` (a numpy array: ``torch.from_numpy(x)``), or a
            dtype other than float32 and uint8.
        ValueError: for an empty tensor or non-finite values.
    """
    if not isinstance(x, Tensor):
        hint = " (convert it with torch.from_numpy(x))" if type(x).__module__ == "numpy" else ""
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__module__}.{type(x).__name__}{hint}")
    if x.dtype not in DATA_DTYPES:
        raise TypeError(f"{name} must be float32 (or uint8 images), got {x.dtype}: convert it with {name}.float()")
    if x.dim() == 0 or len(x) == 0:
        raise ValueError(f"{name} must hold at least one sample [N >= 1, ...], got shape {tuple(x.shape)}")
    # a NaN or an infinity makes the sum non-finite: one cheap reduction, the exact count only then
    if x.is_floating_point() and not torch.isfinite(x.sum()) and not torch.isfinite(x).all():
        raise ValueError(f"{name} has {int((~torch.isfinite(x)).sum())} NaN or infinite values")


@torch.no_grad()
def evaluate(model: AutoEncoder, x: Tensor, batch_size: int, seed: int = 0) -> dict[str, float]:
    """Held-out metrics over ``x`` in batches of ``batch_size`` (the KL of Eq. 21 depends on it).

    ``recon``, ``aevb_kl``, ``elbo`` average over samples, with one ``z ~ q(z|x)`` drawn from a
    fixed seed (so evaluation neither varies nor disturbs the training RNG); ``recon_mse`` uses
    ``z = mu``; ``wise_kl`` averages Eq. 21 over the full batches.
    """
    check_data(x, "x")
    check_count("batch_size", batch_size, 1)
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    sums = dict.fromkeys(("recon", "aevb_kl", "recon_mse"), 0.0)
    wise, n_wise = 0.0, 0
    with eval_mode(model):
        for start in range(0, len(x), batch_size):
            xb = as_float_batch(x[start : start + batch_size].to(device, non_blocking=True))
            f = Forward.run(model, xb, generator=gen)
            mu, logvar = f.mu, f.logvar
            sums["recon"] += f.recon.sum().item()
            sums["aevb_kl"] += aevb_kl(mu, logvar).sum().item()
            mean_x = model.mean_output(model.decode(mu).float())
            sums["recon_mse"] += (xb - mean_x).square().flatten(1).sum(1).sum().item()
            if len(xb) == batch_size or len(x) < batch_size:
                wise += wise_kl_metric(mu, logvar).item()
                n_wise += 1
    out = {k: v / len(x) for k, v in sums.items()}
    out["wise_kl"] = wise / n_wise
    out["elbo"] = -(out["recon"] + out["aevb_kl"])
    return out


def _shown(path: Path) -> str:
    """A checkpoint's path as a stored output may show it: relative to the working directory (a
    chapter's ``book/``), else its last two parts, never a machine's absolute path."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(Path(*path.parts[-2:]))


def make_adam(params, **settings) -> torch.optim.Adam:
    """``torch.optim.Adam(params, **settings)`` with torch's fused kernel (CPU and CUDA have one).

    The fused kernel updates every parameter in one pass: on the CPU it takes about a third of
    the for-loop Adam's time per step for the sine and MNIST networks (``benchmarks/train_speed.py``),
    and it computes the same update up to float rounding (about 3e-8 after 100 steps, ``tests/test_engine.py``).
    It is deterministic, and a checkpoint restores the implementation it was saved with.
    """
    settings.setdefault("fused", True)
    return torch.optim.Adam(params, **settings)


def train_step(model: AutoEncoder, method: Method, xb: Tensor, optimizers: dict, groups: dict, autocast=nullcontext) -> Tensor:
    """One optimiser step of every parameter group on the batch ``xb`` (Appendix C's inner loop).

    The forward pass, the method's losses, one backward per group, then every group's Adam step:
    simultaneous updates, so one group's step never changes weights that another group's backward
    still needs (WAE-GAN's adversary). :func:`train` calls this for every batch, and
    ``benchmarks/train_speed.py`` times this very function. The first call lets ``malloc`` reuse
    freed memory (:func:`reuse_freed_memory`).

    Returns:
        The step's metrics, detached, in the order of ``_TRAIN_METRICS``: the mean reconstruction
        term, the mean per-sample KL, the Eq. 21 metric, the ``"model"`` loss and the ELBO.
    """
    reuse_freed_memory()
    with autocast():
        f = Forward.run(model, xb)
        losses = method.losses(f)
    for i, (name, loss) in enumerate(losses.items()):
        optimizers[name].zero_grad(set_to_none=True)
        loss.backward(inputs=groups[name], retain_graph=i < len(losses) - 1)
    for name in losses:
        distributed.sync_gradients(groups[name])  # the mean over processes in a run over several; else nothing
        optimizers[name].step()
    return step_metrics(f, losses["model"])


def step_metrics(f: Forward, model_loss: Tensor) -> Tensor:
    """A training step's metrics, detached, in the order of ``_TRAIN_METRICS``.

    The mean reconstruction term, the mean per-sample KL (Eq. 26's), the Eq. 21 metric of the global
    batch, the ``"model"`` loss and the ELBO. :func:`train_step` and ``benchmarks/train_speed.py``'s
    stacked step both report these.
    """
    with torch.no_grad():
        kl = aevb_kl(f.mu, f.logvar).mean()
        rec = f.recon.mean()
        wise = wise_kl_metric(distributed.gather(f.mu), distributed.gather(f.logvar))  # the global batch's
        return torch.stack([rec, kl, wise, model_loss, -(rec + kl)])


def _on_device(x: Tensor, device: torch.device) -> Tensor:
    """``x`` moved to ``device`` if it fits comfortably (a quarter of free GPU memory), else left."""
    if device.type != "cuda":
        return x.to(device)
    free, _ = torch.cuda.mem_get_info(device)
    return x.to(device) if x.numel() * x.element_size() < free // 4 else x.pin_memory()


def train(
    model: AutoEncoder,
    method: Method,
    train_x: Tensor,
    test_x: Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int = 0,
    checkpoint: str | Path | None = None,
    device: str | torch.device | None = None,
    amp: bool = False,
    progress: bool = True,
    desc: str | None = None,
    on_step=None,
) -> TrainResult:
    """Train ``model`` with ``method``; resume from ``checkpoint`` if it holds an earlier epoch.

    Args:
        model: an :class:`AutoEncoder`; its initial weights matter only when no checkpoint exists.
        method: the objective (:mod:`wisetut.methods`).
        train_x, test_x: data tensors shaped like the model's input, on any device; float32, or
            uint8 images that each batch scales to [0, 1] on the device. Checked before the first
            step (:func:`check_data`, the model's ``check_data``): another dtype or a numpy array is a
            ``TypeError``; an empty set, a NaN, a wrong shape or, for a Bernoulli decoder, values
            outside [0, 1] a ``ValueError``.
        epochs, batch_size, lr: Adam settings (Appendix D); the last partial batch is dropped.
            ``epochs`` and ``batch_size`` must be ``int`` (else a ``TypeError`` naming them).
            ``lr`` may be a :class:`~wisetut.schedule.StepLR` (part of the checkpoint's fingerprint).
        seed: seeds batches and noise of every epoch (a CPU run repeats exactly).
        checkpoint: file written after every epoch (checked writable before the first step). If
            it exists it must be intact and come from the same run (:func:`_fingerprint`), else
            :class:`CheckpointError`, which leaves the file, ``model`` and ``method`` unchanged;
            training continues after its epoch, and a finished checkpoint returns the trained
            model at once (train-or-load).
            One process at a time trains into a checkpoint (:func:`~wisetut.checkpoints.exclusive`):
            another one waits, then loads the same run or refuses a different one.
        device: defaults to CUDA when available, else the CPU. On the CPU the run trains with
            :data:`CPU_THREADS` (one) intra-op thread, so the same run gives the same bits however
            it is launched; several runs at once take several processes (``train_methods(workers=)``).
        amp: bfloat16 autocast on CUDA (the objectives stay float32); ignored on the CPU.
        progress: show a ``tqdm.auto`` bar.
        on_step: optional ``callable(epoch, step)`` called after every optimiser step (tests use
            it to interrupt a run).
    """
    check_count("epochs", epochs, 1)
    check_count("batch_size", batch_size, 2)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number (or a wisetut.schedule.StepLR), got {lr!r}")
    check_data(train_x, "train_x")
    check_data(test_x, "test_x")
    if len(train_x) < batch_size:
        raise ValueError(f"train_x has {len(train_x)} samples, fewer than one batch of {batch_size}")
    model.check_data(train_x, "train_x")
    model.check_data(test_x, "test_x")
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    shard = distributed.setup()  # one process, or this one's rows of every batch under torchrun
    device = pick_device(device)
    with ExitStack() as held:
        if device.type == "cpu":
            held.enter_context(_threads(CPU_THREADS))
        if ckpt_path is not None and shard.is_main:  # one writer per checkpoint; another one waits here
            held.enter_context(checkpoints.exclusive(ckpt_path, say=tqdm.write))
        distributed.barrier()  # the other processes read the checkpoint only once rank 0 holds it
        return _train(
            model,
            method,
            train_x,
            test_x,
            epochs,
            batch_size,
            lr,
            seed,
            ckpt_path,
            shard,
            device,
            amp,
            progress and shard.is_main,
            desc,
            on_step,
        )


@contextmanager
def _threads(n: int):
    """Run the block with ``n`` intra-op threads (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _train(
    model, method, train_x, test_x, epochs, batch_size, lr, seed, ckpt_path, shard, device, amp, progress, desc, on_step
) -> TrainResult:
    """:func:`train` once its arguments are checked and the checkpoint is this process's to write."""
    if ckpt_path is not None and shard.is_main and not ckpt_path.exists():
        checkpoints.check_writable(ckpt_path)  # now, not after the first epoch; only the process that writes it
    method.configure_model(model)
    model.to(device)
    method.to(device)
    groups = method.parameter_groups(model)
    opt_settings = {name: method.optimizer_settings(name, float(lr)) for name in groups}
    optimizers = {name: make_adam(params, **opt_settings[name]) for name, params in groups.items()}
    fingerprint = checkpoints.run_fingerprint(model, method, optimizers, train_x, test_x, batch_size, lr, seed)
    fingerprint |= shard.fingerprint(batch_size)
    history, start_epoch = History(), 0
    if ckpt_path is not None and ckpt_path.exists():
        stored, start_epoch = checkpoints.resume(ckpt_path, fingerprint, epochs, model, method, optimizers, device)
        history = History.from_dict(stored)
    distributed.prepare(shard, model, method, batch_size)  # several processes: global batch norm and dropout

    train_x = _on_device(train_x, device)
    use_amp = amp and device.type == "cuda"
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_amp else nullcontext
    n_batches = len(train_x) // batch_size
    if start_epoch == epochs and progress:
        print(
            f"{desc or method.name}: loaded the finished checkpoint {_shown(ckpt_path)} "
            f"({epochs} epochs, trained in {sum(history.seconds):.0f} s)"
        )
    bar = tqdm(
        total=epochs * n_batches,
        initial=start_epoch * n_batches,
        desc=desc or method.name,
        disable=not progress or start_epoch == epochs,
        unit="step",
        leave=True,
    )
    model.train()
    method.train()  # a method's own modules (a second encoder's dropout) train too
    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        torch.manual_seed(_epoch_seed(seed, epoch))  # batches and noise of this epoch, CPU and CUDA
        if schedule_key(lr) is not None:  # this epoch's rate, also right after a resume
            for name, opt in optimizers.items():
                for group in opt.param_groups:
                    group["lr"] = opt_settings[name]["lr"] * lr_factor(lr, epoch)
        order = torch.randperm(len(train_x))
        sums = torch.zeros(len(_TRAIN_METRICS), device=device, dtype=torch.float64)  # one per _TRAIN_METRICS
        for step in range(n_batches):
            idx = order[step * batch_size : (step + 1) * batch_size][shard.rows(batch_size)]
            xb = as_float_batch(train_x[idx.to(train_x.device)].to(device, non_blocking=True))
            with distributed.sharded_step(shard):
                sums += train_step(model, method, xb, optimizers, groups, autocast).double()
            if on_step is not None:
                on_step(epoch, step)
            if step % 20 == 19 or step == n_batches - 1:
                bar.update(step % 20 + 1)
        sums = distributed.average(sums, shard)
        train_row = dict(zip(_TRAIN_METRICS, (sums / n_batches).tolist()))  # averages over the epoch's steps
        if not all(math.isfinite(v) for v in train_row.values()):
            raise FloatingPointError(f"{method.name}: non-finite training metrics in epoch {epoch + 1}: {train_row}")
        test_row = evaluate(model, test_x, batch_size, seed=seed)
        test_row.update(method.held_out_metrics(model, test_x, batch_size))
        history.append(train_row, test_row, time.perf_counter() - t0)
        bar.set_postfix(recon=f"{train_row['recon']:.3g}", test_mse=f"{test_row['recon_mse']:.3g}", refresh=False)
        if ckpt_path is not None and shard.is_main:  # one writer; every process resumes from it
            checkpoints.save_run(
                ckpt_path,
                fingerprint=fingerprint,
                epoch=epoch + 1,
                model=model,
                method=method,
                optimizers=optimizers,
                history=history.as_dict(),
                cpu_threads=torch.get_num_threads() if device.type == "cpu" else None,  # a record, not the fingerprint
            )
    bar.close()
    distributed.release(model, method)
    test = {k: v[-1] for k, v in history.test.items()}
    return TrainResult(model, method, history, test, device, resumed_from_epoch=start_epoch)
