"""Train several methods on one data set: what each training chapter does.

:func:`train_methods` trains every method from the same initial weights with the engine,
train-or-load style (a finished checkpoint in ``checkpoints/`` is loaded, not retrained), in this
process or in worker processes; :func:`checkpoint_path` says where each run is kept. The record a
chapter writes of them is :func:`wisetut.results.results_record`.
"""

from __future__ import annotations

import copy
import multiprocessing
import pickle
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
from tqdm.auto import tqdm

from wisetut import distributed
from wisetut.engine import train
from wisetut.methods import Method
from wisetut.models.base import AutoEncoder
from wisetut.outputs import output_dir, pick_device
from wisetut.profiles import Settings, current_profile
from wisetut.results import TrainResult

__all__ = ["train_methods", "checkpoint_path"]


def checkpoint_path(experiment: str, method: str, seed: int | None = None, profile: str | None = None) -> Path:
    """Where :func:`train_methods` keeps a run: ``checkpoints/<experiment>-<profile>-<method>[-seed<k>].pt``.

    ``seed=None``: the one-seed form's run (``train_methods(..., seed=k)``), which has no suffix
    whatever its seed, as the chapters have always named it. ``seed=k``: seed ``k`` of a
    ``seeds=[...]`` run, which ends in ``-seed<k>``, except seed 0 (the run the figures show):
    it is the chapters' ``seed=0`` run and shares its file. Under
    :func:`~wisetut.outputs.output_dir`; ``profile`` defaults to :func:`~wisetut.profiles.current_profile`.
    """
    profile = current_profile() if profile is None else profile
    suffix = "" if not seed else f"-seed{int(seed)}"
    return output_dir("checkpoints") / f"{experiment}-{profile}-{method}{suffix}.pt"


def train_methods(
    experiment: str,
    model_fn: Callable[[int], AutoEncoder],
    methods: dict[str, Method],
    train_x: torch.Tensor,
    test_x: torch.Tensor,
    settings: Settings,
    *,
    seed: int = 0,
    seeds: Sequence[int] | None = None,
    device: str | torch.device | None = None,
    amp: bool | None = None,
    progress: bool = True,
    workers: int = 1,
) -> dict:
    """Train each of ``methods`` on the same data from the same initial weights, for one seed or several.

    With ``seed`` (one run per method) it returns ``{method: TrainResult}``. With ``seeds`` (a list)
    every method is trained once per seed, each from its own copy of the method, and it returns
    ``{method: {seed: TrainResult}}``. A seed sets the initial weights (the same for every
    method), the batch order and the noise; seed 0 is the run a chapter's figures show.
    Checkpoints: :func:`checkpoint_path` (``seeds=[0, 1, 2]`` loads the run of ``seed=0``, and the
    one-seed form keeps the names the chapters have always used), under the profile ``settings``
    belong to (``settings_for("sine", "standard")`` trains and loads the ``standard`` runs from a
    chapter executed in any profile); ``amp`` defaults to on for CUDA.

    ``workers > 1`` (CPU only) first trains up to that many runs at once, each in its own process
    with one thread, into the same checkpoints; the loop below then loads them. A run is exact
    either way: each process repeats its run bit for bit, and an interrupted parallel run resumes
    from its checkpoints like any other. Runs whose checkpoints are already finished are not sent
    to the workers (nothing to show). On a GPU, or under ``torchrun``, ``workers`` is ignored.
    ``model_fn`` must then be picklable (a module-level function, not a lambda).
    """
    device = pick_device(device)
    amp = device.type == "cuda" if amp is None else amp
    profile = settings.profile or None  # settings_for(..., "standard") names its runs "-standard-" under any profile
    if seeds is None:
        jobs = {name: (method, int(seed), checkpoint_path(experiment, name, profile=profile)) for name, method in methods.items()}
    else:
        seeds = [int(s) for s in seeds]
        if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
            raise ValueError(f"seeds must be a non-empty list of distinct non-negative integers, got {seeds}")
        jobs = {
            (name, s): (copy.deepcopy(method), s, checkpoint_path(experiment, name, s, profile))
            for name, method in methods.items()
            for s in seeds
        }
    todo = {key: job for key, job in jobs.items() if not _finished(job[2], settings.epochs)}
    if workers > 1 and device.type == "cpu" and len(todo) > 1 and not distributed.current().distributed:
        _train_in_processes(model_fn, todo, train_x, test_x, settings, workers, progress, experiment)
    runs = {
        key: _train_seeded(
            model_fn,
            method,
            train_x,
            test_x,
            settings,
            s,
            path,
            device=device,
            amp=amp,
            progress=progress,
            desc=f"{experiment}: {_label(key)}",
        )
        for key, (method, s, path) in jobs.items()
    }
    if seeds is None:
        return runs
    return {name: {s: runs[(name, s)] for s in seeds} for name in methods}


def _label(key) -> str:
    return key if isinstance(key, str) else f"{key[0]} (seed {key[1]})"


def _finished(path: Path, epochs: int) -> bool:
    """Whether ``path`` holds a checkpoint of at least ``epochs`` epochs (any doubt: no; train() then decides)."""
    if not path.exists():
        return False
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["epoch"]) >= epochs
    except Exception:
        return False


def _train_seeded(model_fn, method, train_x, test_x, settings, seed, path, **kwargs) -> TrainResult:
    """One run of :func:`train_methods`, in this process or a worker: the same initial weights for every method.

    The seed also draws the method's own initial weights where it holds some at construction
    (its ``reset_parameters``: the nonparametric VAE's locator), after the model's.
    """
    torch.manual_seed(seed)
    model = model_fn(settings.latent_dim)
    if hasattr(method, "reset_parameters"):
        method.reset_parameters()
    return train(
        model,
        method,
        train_x,
        test_x,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        lr=settings.lr,
        seed=seed,
        checkpoint=path,
        **kwargs,
    )


_STEPS = None  # in a worker process: the shared array of steps done per run (see _train_in_processes)


def _share_steps(steps) -> None:
    global _STEPS
    _STEPS = steps


def _train_one(model_fn, slot, method, train_x, test_x, settings, seed, path) -> None:
    """One run in a worker process (one thread, as every CPU run): train into ``path``; steps done into ``_STEPS[slot]``."""
    n_batches = len(train_x) // settings.batch_size

    def report(epoch, step):
        if step % 20 == 19 or step == n_batches - 1:
            _STEPS[slot] = epoch * n_batches + step + 1

    _train_seeded(model_fn, method, train_x, test_x, settings, seed, path, device="cpu", progress=False, on_step=report)


def _train_in_processes(model_fn, jobs, train_x, test_x, settings, workers, progress, experiment):
    """Train ``jobs`` (key: (method, seed, path)) in ``workers`` spawned processes, with one progress bar.

    A run that fails is reported at once; runs not yet started are cancelled, the running ones
    finish (into their checkpoints), and the first error is then raised.
    """
    try:
        pickle.dumps((model_fn, [method for method, _, _ in jobs.values()]))
    except Exception as e:
        raise ValueError(
            f"workers={workers} sends model_fn and the methods to other processes, so they must be picklable "
            f"(a module-level function, not a lambda or a function defined in a notebook): {e}"
        ) from e
    ctx = multiprocessing.get_context("spawn")  # fork is unsafe with torch's thread pools
    per_run = settings.epochs * (len(train_x) // settings.batch_size)
    steps = ctx.Array("q", len(jobs), lock=False)  # shared memory: each worker writes its own slot
    failed = None
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_share_steps, initargs=(steps,)) as pool:
        futures = {
            pool.submit(_train_one, model_fn, slot, method, train_x, test_x, settings, s, path): key
            for slot, (key, (method, s, path)) in enumerate(jobs.items())
        }
        with tqdm(
            total=per_run * len(jobs),
            desc=f"{experiment}: {len(jobs)} runs, {workers} processes",
            unit="step",
            disable=not progress,
        ) as bar:
            while not all(f.done() for f in futures):
                time.sleep(1.0)
                bar.n = sum(per_run if f.done() else steps[slot] for slot, f in enumerate(futures))
                bar.refresh()
                for f, key in futures.items():
                    if failed is None and f.done() and f.exception() is not None:
                        failed = f
                        tqdm.write(
                            f"{experiment}: {_label(key)} failed ({type(f.exception()).__name__}: {f.exception()}); "
                            "runs not yet started are cancelled, running ones finish"
                        )
                        for g in futures:
                            g.cancel()
    if failed is not None:
        failed.result()
