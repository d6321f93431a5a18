"""Train several methods on one data set and record the results: what each training chapter does.

:func:`train_methods` trains every method from the same initial weights with the engine,
train-or-load style (a finished checkpoint in ``checkpoints/`` is loaded, not retrained), and
:func:`results_record` builds the ``results/<experiment>.json`` record every chapter writes.
"""

from __future__ import annotations

import copy
import math
import multiprocessing
import pickle
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import torch
from tqdm.auto import tqdm

from wisetut import distributed
from wisetut.claims import mean_interval
from wisetut.engine import TrainResult, train
from wisetut.methods import Method
from wisetut.models.base import AutoEncoder
from wisetut.outputs import describe_device, output_dir, pick_device
from wisetut.profiles import Settings, current_profile

__all__ = ["train_methods", "checkpoint_path", "results_record", "convergence"]


def checkpoint_path(experiment: str, method: str, seed: int = 0, profile: str | None = None) -> Path:
    """Where :func:`train_methods` keeps a run: ``checkpoints/<experiment>-<profile>-<method>[-seed<k>].pt``.

    Seed 0 (the run the figures show) has no suffix, the name every chapter has always used; seed
    ``k > 0`` ends in ``-seed<k>``. Under :func:`~wisetut.outputs.output_dir`; ``profile`` defaults
    to :func:`~wisetut.profiles.current_profile`.
    """
    profile = current_profile() if profile is None else profile
    suffix = "" if seed == 0 else f"-seed{seed}"
    return output_dir("checkpoints") / f"{experiment}-{profile}-{method}{suffix}.pt"


def train_methods(
    experiment: str,
    model_fn: Callable[[int], AutoEncoder],
    methods: dict[str, Method],
    train_x: torch.Tensor,
    test_x: torch.Tensor,
    settings: Settings,
    *,
    seed: int | None = None,
    seeds: Sequence[int] | None = None,
    device: str | torch.device | None = None,
    amp: bool | None = None,
    progress: bool = True,
    workers: int = 1,
) -> dict[str, TrainResult] | dict[str, dict[int, TrainResult]]:
    """Train each of ``methods`` on the same data from the same initial weights, for one seed or several.

    - ``seed=k`` (default 0): one run per method, returned as ``{method: TrainResult}``.
    - ``seeds=[0, 1, 2]``: one run per method and seed, returned as ``{method: {seed: TrainResult}}``;
      each seed trains its own copy of the method as passed (a seed sets the initial weights, the
      batch order and the noise), and seed 0 is the one-seed run (the same checkpoint).

    Checkpoints: :func:`checkpoint_path`; ``amp`` defaults to on for CUDA.

    ``workers > 1`` (CPU only) first trains up to that many runs at once, each in its own
    process with one thread, into the same checkpoints; the loop below then loads them. A run is
    exact either way: each process repeats its run bit for bit, and an interrupted parallel run
    resumes from its checkpoints like any other. On a GPU, or under ``torchrun``, ``workers`` is
    ignored. ``model_fn`` must then be picklable (a module-level function, not a lambda).
    """
    if seed is not None and seeds is not None:
        raise ValueError(f"pass seed={seed} or seeds={list(seeds)}, not both")
    grouped = seeds is not None
    seeds = [0 if seed is None else int(seed)] if seeds is None else [int(k) for k in seeds]
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(f"seeds must be distinct non-negative integers, got {seeds}")
    device = pick_device(device)
    amp = device.type == "cuda" if amp is None else amp
    # (name, seed) -> the method object that run trains: the caller's own for one seed, a copy per seed for several
    runs = {(name, k): copy.deepcopy(m) if grouped else m for name, m in methods.items() for k in seeds}
    paths = {(name, k): checkpoint_path(experiment, name, k) for name, k in runs}
    if workers > 1 and device.type == "cpu" and len(runs) > 1 and not distributed.current().distributed:
        _train_in_processes(model_fn, runs, train_x, test_x, settings, paths, workers, progress, experiment)
    done = {
        key: _train_seeded(model_fn, method, train_x, test_x, settings, key[1], paths[key], device=device, amp=amp,
                           progress=progress, desc=f"{experiment}: {key[0]}" + (f", seed {key[1]}" if grouped else ""))
        for key, method in runs.items()
    }
    if grouped:
        return {name: {k: done[name, k] for k in seeds} for name in methods}
    return {name: done[name, seeds[0]] for name in methods}


def _train_seeded(model_fn, method, train_x, test_x, settings, seed, path, **kwargs) -> TrainResult:
    """One run of :func:`train_methods`, in this process or a worker: the same initial weights for every method."""
    torch.manual_seed(seed)
    return train(model_fn(settings.latent_dim), method, train_x, test_x, epochs=settings.epochs,
                 batch_size=settings.batch_size, lr=settings.lr, seed=seed, checkpoint=path, **kwargs)


_STEPS = None  # in a worker process: the shared array of steps done per run (see _train_in_processes)


def _share_steps(steps) -> None:
    global _STEPS
    _STEPS = steps


def _train_one(model_fn, slot, method, train_x, test_x, settings, seed, path) -> None:
    """One run in a worker process (one thread): train into ``path``; steps done into ``_STEPS[slot]``."""
    torch.set_num_threads(1)
    n_batches = len(train_x) // settings.batch_size

    def report(epoch, step):
        if step % 20 == 19 or step == n_batches - 1:
            _STEPS[slot] = epoch * n_batches + step + 1

    _train_seeded(model_fn, method, train_x, test_x, settings, seed, path, device="cpu", progress=False, on_step=report)


def _train_in_processes(model_fn, runs, train_x, test_x, settings, paths, workers, progress, experiment):
    """Train ``runs`` (``{(method, seed): Method}``) in ``workers`` spawned processes, with one progress bar.

    A run that fails is reported at once; runs not yet started are cancelled, the running ones
    finish (into their checkpoints), and the first error is then raised.
    """
    try:
        pickle.dumps((model_fn, runs))
    except Exception as e:
        raise ValueError(
            f"workers={workers} sends model_fn and the methods to other processes, so they must be picklable "
            f"(a module-level function, not a lambda or a function defined in a notebook): {e}"
        ) from e
    ctx = multiprocessing.get_context("spawn")  # fork is unsafe with torch's thread pools
    per_run = settings.epochs * (len(train_x) // settings.batch_size)
    steps = ctx.Array("q", len(runs), lock=False)  # shared memory: each worker writes its own slot
    failed = None
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_share_steps, initargs=(steps,)) as pool:
        futures = {pool.submit(_train_one, model_fn, slot, method, train_x, test_x, settings, key[1], paths[key]): key
                   for slot, (key, method) in enumerate(runs.items())}
        with tqdm(total=per_run * len(runs), desc=f"{experiment}: {len(runs)} runs, {workers} processes",
                  unit="step", disable=not progress) as bar:
            while not all(f.done() for f in futures):
                time.sleep(1.0)
                bar.n = sum(per_run if f.done() else steps[slot] for slot, f in enumerate(futures))
                bar.refresh()
                for f, (name, k) in futures.items():
                    if failed is None and f.done() and f.exception() is not None:
                        failed = f
                        tqdm.write(f"{experiment}: {name} (seed {k}) failed ({type(f.exception()).__name__}: "
                                   f"{f.exception()}); runs not yet started are cancelled, running ones finish")
                        for g in futures:
                            g.cancel()
    if failed is not None:
        failed.result()


SUMMARY_METRICS = ("test_recon_mse", "test_elbo", "test_aevb_kl", "test_wise_kl", "train_seconds")


def results_record(experiment: str, settings: Settings, data: dict,
                   runs: dict[str, TrainResult] | dict[str, dict[int, TrainResult]]) -> dict:
    """The ``results/<experiment>.json`` record: profile, device, data, settings, per-method metrics.

    ``runs`` as :func:`train_methods` returns them. For one seed, each method's entry is its run's
    :meth:`~wisetut.engine.TrainResult.summary`. For several (``{method: {seed: run}}``),
    ``settings["seeds"]`` lists them and each method's entry holds, for every metric of
    :data:`SUMMARY_METRICS`, the mean over seeds, its 95% t interval in ``"interval"``
    (:func:`wisetut.claims.mean_interval`) and every seed's own summary in ``"per_seed"``.
    """
    grouped = all(isinstance(r, dict) for r in runs.values())
    flat = [r for group in runs.values() for r in group.values()] if grouped else list(runs.values())
    record = {
        "experiment": experiment,
        "profile": current_profile(),
        "device": ", ".join(sorted({describe_device(r.device) for r in flat})),
        "torch": torch.__version__,
        "data": data,
        "settings": {k: getattr(settings, k) for k in ("epochs", "batch_size", "latent_dim", "lr")},
        "methods": {name: _over_seeds(group) if grouped else group.summary() for name, group in runs.items()},
    }
    if grouped:
        seeds = {tuple(group) for group in runs.values()}
        if len(seeds) != 1:
            raise ValueError(f"every method needs the same seeds, got {sorted(seeds)}")
        record["settings"]["seeds"] = list(seeds.pop())
    return record


def _over_seeds(group: dict[int, TrainResult]) -> dict:
    """One method's record over seeds: the mean of each metric, its 95% interval, every seed's summary."""
    per_seed = {str(k): run.summary() for k, run in group.items()}
    entry, interval = {}, {}
    for key in SUMMARY_METRICS:
        mean, low, high = mean_interval([s[key] for s in per_seed.values()])
        entry[key], interval[key] = mean, [low, high]
    hparams = next(iter(per_seed.values()))["hparams"]
    return {**entry, "interval": interval, "hparams": hparams,
            "per_seed": {k: {m: v for m, v in s.items() if m != "hparams"} for k, s in per_seed.items()}}


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
