"""The ELBO of a Gaussian decoder at a stated variance, and the variance that calibrates it.

The book trains its Gaussian decoders with the squared error ``||x - x_hat||^2``: the negative
log-likelihood of ``N(x; x_hat, sigma^2 I)`` at ``sigma^2 = 1/2``, constants dropped. The paper never
states its variance, and an ELBO compared across models depends on it (Rybkin, Daniilidis and
Levine, 2021, "Simple and Effective VAE Training with Calibrated Decoders"). With ``D`` data
dimensions, per sample::

    ELBO(sigma^2) = -D/2 log(2 pi sigma^2) - ||x - x_hat||^2 / (2 sigma^2) - KL(q(z|x) || p(z)),

and the variance that maximises it over a data set, the calibrated decoder's, is the mean squared
error per dimension (:func:`ml_variance`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["gaussian_elbo", "ml_variance", "elbo_over_variances"]


def _errors(sq_errors: Sequence[float], name: str = "sq_errors") -> np.ndarray:
    e = np.asarray(sq_errors, dtype=float)
    if e.ndim != 1 or len(e) == 0 or not np.isfinite(e).all() or (e < 0).any():
        raise ValueError(f"{name} must be a non-empty sequence of finite squared errors >= 0 (one per sample)")
    return e


def ml_variance(sq_errors: Sequence[float], dims: int) -> float:
    """The maximum-likelihood variance ``sigma*^2 = mean_i ||x_i - x_hat_i||^2 / D`` (fit it on the training set)."""
    if dims < 1:
        raise ValueError(f"dims must be at least 1, got {dims}")
    return float(_errors(sq_errors).mean() / dims)


def gaussian_elbo(sq_errors: Sequence[float], kls: Sequence[float], dims: int, variance: float) -> float:
    """The mean ELBO of a Gaussian decoder ``N(x; x_hat, variance I)`` over samples, in nats.

    ``sq_errors[i] = ||x_i - x_hat_i||^2`` (``x_hat`` decoded from a draw ``z ~ q(z|x_i)``, as the
    ELBO's expectation asks) and ``kls[i] = KL(q(z|x_i) || p(z))``, one per sample.
    """
    e, kl = _errors(sq_errors), np.asarray(kls, dtype=float)
    if kl.shape != e.shape or not np.isfinite(kl).all():
        raise ValueError(f"kls must hold one finite KL per sample, like sq_errors ({len(e)}), got shape {kl.shape}")
    if not (math.isfinite(variance) and variance > 0) or dims < 1:
        raise ValueError(f"need a positive finite variance and dims >= 1, got {variance} and {dims}")
    return float(np.mean(-0.5 * dims * math.log(2 * math.pi * variance) - e / (2 * variance) - kl))


def elbo_over_variances(sq_errors: Sequence[float], kls: Sequence[float], dims: int, variances: Sequence[float]) -> list[float]:
    """:func:`gaussian_elbo` at each of ``variances`` (a sweep, for the figure of an ELBO difference over sigma^2)."""
    return [gaussian_elbo(sq_errors, kls, dims, v) for v in variances]
