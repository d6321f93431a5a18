"""Train several methods on one data set and record the results: what each training chapter does.

:func:`train_methods` trains every method from the same initial weights with the engine,
train-or-load style (a finished checkpoint in ``checkpoints/`` is loaded, not retrained), and
:func:`results_record` builds the ``results/<experiment>.json`` record every chapter writes.
"""

from __future__ import annotations

import math
import multiprocessing
import pickle
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Callable

import torch
from tqdm.auto import tqdm

from wisetut.engine import TrainResult, train
from wisetut.methods import Method
from wisetut.models.base import AutoEncoder
from wisetut.outputs import describe_device, output_dir, pick_device
from wisetut.profiles import Settings, current_profile

__all__ = ["train_methods", "results_record", "convergence"]


def train_methods(
    experiment: str,
    model_fn: Callable[[int], AutoEncoder],
    methods: dict[str, Method],
    train_x: torch.Tensor,
    test_x: torch.Tensor,
    settings: Settings,
    *,
    seed: int = 0,
    device: str | torch.device | None = None,
    amp: bool | None = None,
    progress: bool = True,
    workers: int = 1,
) -> dict[str, TrainResult]:
    """Train each of ``methods`` on the same data from the same initial weights.

    Checkpoints go to ``checkpoints/<experiment>-<profile>-<method>.pt`` under
    :func:`~wisetut.outputs.output_dir`; ``amp`` defaults to on for CUDA.

    ``workers > 1`` (CPU only) first trains up to that many methods at once, each in its own
    process with one thread, into the same checkpoints; the loop below then loads them. A run is
    exact either way: each process repeats its method's run bit for bit, and an interrupted
    parallel run resumes from its checkpoints like any other. On a GPU ``workers`` is ignored.
    ``model_fn`` must then be picklable (a module-level function, not a lambda).
    """
    device = pick_device(device)
    amp = device.type == "cuda" if amp is None else amp
    profile = current_profile()
    paths = {name: output_dir("checkpoints") / f"{experiment}-{profile}-{name}.pt" for name in methods}
    if workers > 1 and device.type == "cpu" and len(methods) > 1:
        _train_in_processes(model_fn, methods, train_x, test_x, settings, seed, paths, workers, progress, experiment)
    return {
        name: _train_seeded(model_fn, method, train_x, test_x, settings, seed, paths[name], device=device, amp=amp,
                            progress=progress, desc=f"{experiment}: {name}")
        for name, method in methods.items()
    }


def _train_seeded(model_fn, method, train_x, test_x, settings, seed, path, **kwargs) -> TrainResult:
    """One run of :func:`train_methods`, in this process or a worker: the same initial weights for every method."""
    torch.manual_seed(seed)
    return train(model_fn(settings.latent_dim), method, train_x, test_x, epochs=settings.epochs,
                 batch_size=settings.batch_size, lr=settings.lr, seed=seed, checkpoint=path, **kwargs)


_STEPS = None  # in a worker process: the shared array of steps done per method (see _train_in_processes)


def _share_steps(steps) -> None:
    global _STEPS
    _STEPS = steps


def _train_one(model_fn, slot, method, train_x, test_x, settings, seed, path) -> None:
    """One method in a worker process (one thread): train into ``path``; steps done into ``_STEPS[slot]``."""
    torch.set_num_threads(1)
    n_batches = len(train_x) // settings.batch_size

    def report(epoch, step):
        if step % 20 == 19 or step == n_batches - 1:
            _STEPS[slot] = epoch * n_batches + step + 1

    _train_seeded(model_fn, method, train_x, test_x, settings, seed, path, device="cpu", progress=False, on_step=report)


def _train_in_processes(model_fn, methods, train_x, test_x, settings, seed, paths, workers, progress, experiment):
    """Train ``methods`` in ``workers`` spawned processes, with one progress bar over all their steps.

    A run that fails is reported at once; runs not yet started are cancelled, the running ones
    finish (into their checkpoints), and the first error is then raised.
    """
    try:
        pickle.dumps((model_fn, methods))
    except Exception as e:
        raise ValueError(
            f"workers={workers} sends model_fn and the methods to other processes, so they must be picklable "
            f"(a module-level function, not a lambda or a function defined in a notebook): {e}"
        ) from e
    ctx = multiprocessing.get_context("spawn")  # fork is unsafe with torch's thread pools
    per_method = settings.epochs * (len(train_x) // settings.batch_size)
    steps = ctx.Array("q", len(methods), lock=False)  # shared memory: each worker writes its own slot
    failed = None
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_share_steps, initargs=(steps,)) as pool:
        futures = {pool.submit(_train_one, model_fn, slot, method, train_x, test_x, settings, seed, paths[name]): name
                   for slot, (name, method) in enumerate(methods.items())}
        with tqdm(total=per_method * len(methods), desc=f"{experiment}: {len(methods)} runs, {workers} processes",
                  unit="step", disable=not progress) as bar:
            while not all(f.done() for f in futures):
                time.sleep(1.0)
                bar.n = sum(per_method if f.done() else steps[slot] for slot, f in enumerate(futures))
                bar.refresh()
                for f, name in futures.items():
                    if failed is None and f.done() and f.exception() is not None:
                        failed = f
                        tqdm.write(f"{experiment}: {name} failed ({type(f.exception()).__name__}: {f.exception()}); "
                                   "runs not yet started are cancelled, running ones finish")
                        for g in futures:
                            g.cancel()
    if failed is not None:
        failed.result()


def results_record(experiment: str, settings: Settings, data: dict, runs: dict[str, TrainResult]) -> dict:
    """The ``results/<experiment>.json`` record: profile, device, data, settings, per-method metrics."""
    devices = {describe_device(r.device) for r in runs.values()}
    return {
        "experiment": experiment,
        "profile": current_profile(),
        "device": ", ".join(sorted(devices)),
        "torch": torch.__version__,
        "data": data,
        "settings": {k: getattr(settings, k) for k in ("epochs", "batch_size", "latent_dim", "lr")},
        "methods": {name: run.summary() for name, run in runs.items()},
    }


def convergence(values, fraction: float = 0.2, tol: float = 0.02) -> dict:
    """Has a per-epoch curve (a held-out error) stopped moving? The book's convergence criterion.

    Compares the last value with the value ``ceil(fraction * epochs)`` epochs earlier: the run has
    converged when the relative change over that last stretch is below ``tol`` (2% over the last
    fifth of the epochs, by default). A curve that rises again (over-fitting) fails it as well.

    Returns:
        ``{"criterion", "epochs", "window", "relative_change", "met"}``.

    Raises:
        ValueError: for fewer than two values, non-finite values, or settings outside (0, 1).
    """
    v = [float(x) for x in values]
    if len(v) < 2 or not all(math.isfinite(x) for x in v):
        raise ValueError(f"need at least two finite values, got {v}")
    if not (0 < fraction < 1 and tol > 0):
        raise ValueError(f"need 0 < fraction < 1 and tol > 0, got {fraction} and {tol}")
    window = min(len(v) - 1, max(1, math.ceil(fraction * len(v))))
    before, last = v[-1 - window], v[-1]
    change = abs(last - before) / max(abs(before), 1e-12)
    return {
        "criterion": f"held-out value changes by less than {tol:.0%} over the last {fraction:.0%} of epochs",
        "epochs": len(v),
        "window": window,
        "relative_change": change,
        "met": change < tol,
    }
