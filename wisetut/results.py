"""What a training run leaves: its per-epoch :class:`History`, the :class:`TrainResult`, and the results record.

:func:`results_record` is the schema every chapter's ``results/<experiment>.json`` shares (profile,
device, data, settings, each method's metrics, per seed through :func:`seed_summary`);
:func:`convergence` is the book's older convergence rule (the trend rule is :func:`wisetut.claims.trend`).
:func:`wisetut.outputs.save_results` writes the record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from wisetut.claims import mean_interval
from wisetut.outputs import describe_device
from wisetut.profiles import Settings, current_profile
from wisetut.schedule import describe_schedule

if TYPE_CHECKING:
    from wisetut.methods import Method
    from wisetut.models.base import AutoEncoder

__all__ = ["History", "TrainResult", "seed_summary", "results_record", "convergence"]


@dataclass
class History:
    """Per-epoch metrics: ``train`` (averaged over the epoch's steps) and ``test`` (held out).

    Keys of both: ``recon`` (-log p(x|z), z sampled), ``aevb_kl`` (mean per sample),
    ``wise_kl`` (Eq. 21 per batch), ``elbo`` (``-(recon + aevb_kl)``), ``loss`` (train only),
    ``recon_mse`` (test only: squared error with z = mu, summed over data dimensions).
    """

    train: dict[str, list[float]] = field(default_factory=dict)
    test: dict[str, list[float]] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)

    def append(self, train: dict[str, float], test: dict[str, float], seconds: float) -> None:
        for store, row in ((self.train, train), (self.test, test)):
            for k, v in row.items():
                store.setdefault(k, []).append(float(v))
        self.seconds.append(float(seconds))

    @property
    def epochs(self) -> int:
        return len(self.seconds)

    def as_dict(self) -> dict:
        return {"train": self.train, "test": self.test, "seconds": self.seconds}

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls({k: list(v) for k, v in d["train"].items()}, {k: list(v) for k, v in d["test"].items()}, list(d["seconds"]))


@dataclass
class TrainResult:
    """What :func:`train` returns: the trained model and method, their history, the final test metrics."""

    model: AutoEncoder
    method: Method
    history: History
    test: dict[str, float]
    device: torch.device
    resumed_from_epoch: int

    @property
    def train_seconds(self) -> float:
        return float(sum(self.history.seconds))

    def summary(self) -> dict:
        """The per-method entry of a results file (the ``methods`` entries of ``results/<experiment>.json``)."""
        return {
            "test_recon_mse": self.test["recon_mse"],
            "test_elbo": self.test["elbo"],
            "test_aevb_kl": self.test["aevb_kl"],
            "test_wise_kl": self.test["wise_kl"],
            "train_seconds": self.train_seconds,
            "hparams": self.method.hparams(),
        }


def seed_summary(per_seed: dict[int, dict]) -> dict:
    """A method's entry over seeds: each metric's mean, its 95% interval (``ci95``) and the per-seed entries.

    ``per_seed`` maps a seed to the entry of one run (:meth:`TrainResult.summary`,
    or any dict of numbers). Numeric keys shared by every seed are averaged; the interval is the t
    interval of :func:`wisetut.claims.mean_interval` (``None`` bounds with one seed).
    """
    if not per_seed:
        raise ValueError("need at least one seed")
    first = next(iter(per_seed.values()))
    numeric = [
        k
        for k, v in first.items()
        if isinstance(v, (int, float))
        and not isinstance(v, bool)
        and all(isinstance(e.get(k), (int, float)) for e in per_seed.values())
    ]
    out, ci = {}, {}
    for k in numeric:
        mean, lo, hi = mean_interval([e[k] for e in per_seed.values()])
        out[k], ci[k] = mean, [lo, hi]
    out.update({k: v for k, v in first.items() if k not in numeric and k != "per_seed"})
    out["seeds"] = sorted(per_seed)
    out["ci95"] = ci
    out["per_seed"] = {str(s): e for s, e in per_seed.items()}
    return out


def results_record(experiment: str, settings: Settings, data: dict, runs: dict) -> dict:
    """The ``results/<experiment>.json`` record: profile, device, data, settings, per-method metrics.

    ``runs`` is what :func:`train_methods` returned: ``{method: TrainResult}`` (one seed), or
    ``{method: {seed: TrainResult}}``, whose entries are :func:`seed_summary` (mean, interval and
    per-seed values). The profile is the one ``settings`` belong to (else the active one); the
    settings' ``knobs`` are stored beside the training settings.
    """
    by_seed = {name: r for name, r in runs.items() if isinstance(r, dict)}  # the seeds=[...] form
    methods = {
        name: seed_summary({s: run.summary() for s, run in by_seed[name].items()}) if name in by_seed else r.summary()
        for name, r in runs.items()
    }
    devices = {describe_device(run.device) for r in runs.values() for run in (r.values() if isinstance(r, dict) else [r])}
    seeds = sorted({s for r in by_seed.values() for s in r})
    return {
        "experiment": experiment,
        "profile": settings.profile or current_profile(),
        "device": ", ".join(sorted(devices)),
        "torch": torch.__version__,
        "data": data,
        "settings": {k: getattr(settings, k) for k in ("epochs", "batch_size", "latent_dim", "lr")}
        | {"lr_schedule": describe_schedule(settings.lr)}
        | dict(settings.knobs)
        | ({"seeds": seeds} if seeds else {}),
        "methods": methods,
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
