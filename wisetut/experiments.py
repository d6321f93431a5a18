"""Train several methods on one data set and record the results: what each training chapter does.

:func:`train_methods` trains every method from the same initial weights with the engine,
train-or-load style (a finished checkpoint in ``checkpoints/`` is loaded, not retrained), and
:func:`results_record` builds the ``results/<experiment>.json`` record of DESIGN.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

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
) -> dict[str, TrainResult]:
    """Train each of ``methods`` on the same data from the same initial weights.

    Checkpoints go to ``checkpoints/<experiment>-<profile>-<method>.pt`` under
    :func:`~wisetut.outputs.output_dir`; ``amp`` defaults to on for CUDA.
    """
    device = pick_device(device)
    amp = device.type == "cuda" if amp is None else amp
    profile = current_profile()
    runs = {}
    for name, method in methods.items():
        torch.manual_seed(seed)  # the same initial weights for every method
        model = model_fn(settings.latent_dim)
        runs[name] = train(
            model,
            method,
            train_x,
            test_x,
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            lr=settings.lr,
            seed=seed,
            checkpoint=output_dir("checkpoints") / f"{experiment}-{profile}-{name}.pt",
            device=device,
            amp=amp,
            progress=progress,
            desc=f"{experiment}: {name}",
        )
    return runs


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
