"""Posteriors made up by hand, whose prior terms can be computed exactly (chapters 2 and 3).

- :func:`regime_posteriors`: batches of diagonal Gaussian posteriors in the three regimes chapter 2
  measures the bound of Eq. 21 in (separated, overlapping, like a trained encoder).
- :func:`two_posterior_terms`: chapter 3's Fig. 4 in numbers. Two 1-D posteriors
  ``N(m_1, v)`` and ``N(m_2, v)``: AEVB's prior term (Eq. 26, summed and per sample), the true KL of
  their aggregate to the prior (Eq. 18, by Gauss-Hermite quadrature) and its bound (Eq. 21).
- :func:`argmin_variance`: the shared variance ``v`` that minimises one of those terms.

Everything is float64 on the CPU and deterministic given its generator.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from scipy import optimize
from torch import Tensor

from wisetut.estimators import log_aggregate_density
from wisetut.objectives import aevb_kl, wise_kl

__all__ = ["REGIMES", "regime_posteriors", "TERMS", "two_posterior_terms", "argmin_variance"]

F64 = torch.float64
REGIMES = ("separated", "overlapping", "VAE-like")
TERMS = ("aevb_sum", "aevb_mean", "true", "bound")

# 200 Gauss-Hermite nodes for the weight exp(-x^2 / 2), weights scaled so that sum(W f(x)) = E_N(0,1)[f]
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(200)
_X_GH = torch.tensor(_NODES, dtype=F64)
_W_GH = torch.tensor(_WEIGHTS / math.sqrt(2 * math.pi), dtype=F64)


def regime_posteriors(regime: str, M: int, d: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Seeded posterior parameters ``(mu, logvar)``, each ``[M, d]`` float64, for one of :data:`REGIMES`.

    - ``"separated"``: narrow posteriors (variance 1e-3) with means spread over about +-3 per dimension;
    - ``"overlapping"``: wide posteriors (variance about 1, log-variance jitter 0.2), means within about +-0.1;
    - ``"VAE-like"``: as a trained encoder gives them, means ``N(0, I)``, variances log-uniform in [0.01, 0.1].
    """
    if regime == "separated":
        mu = 3.0 * torch.randn(M, d, generator=generator, dtype=F64)
        logvar = torch.full((M, d), math.log(1e-3), dtype=F64)
    elif regime == "overlapping":
        mu = 0.1 * torch.randn(M, d, generator=generator, dtype=F64)
        logvar = 0.2 * torch.randn(M, d, generator=generator, dtype=F64)
    elif regime == "VAE-like":
        mu = torch.randn(M, d, generator=generator, dtype=F64)
        logvar = torch.empty(M, d, dtype=F64).uniform_(math.log(0.01), math.log(0.1), generator=generator)
    else:
        raise ValueError(f"regime must be one of {REGIMES}, got {regime!r}")
    return mu, logvar


def two_posterior_terms(means: Sequence[float], var: float) -> dict[str, float]:
    """The prior terms of chapter 3 for two 1-D posteriors ``N(means[i], var)``, in nats.

    Returns :data:`TERMS`: ``aevb_sum`` (Eq. 26 summed over the two), ``aevb_mean`` (per sample),
    ``true`` (Eq. 18: ``KL(q(z|B_2) || N(0, 1))`` of the aggregate, the expectation under each
    component taken by 200-node Gauss-Hermite quadrature, exact to about 1e-10 here) and ``bound``
    (Eq. 21's upper bound on ``true``).
    """
    if len(means) != 2 or not var > 0:
        raise ValueError(f"need two means and a positive variance, got means {tuple(means)} and var {var}")
    mu = torch.tensor(means, dtype=F64)[:, None]  # [2, 1]: a batch of 2, latent size 1
    logvar = torch.full_like(mu, math.log(var))
    per_sample = aevb_kl(mu, logvar)
    z = mu + math.sqrt(var) * _X_GH[None, :]  # [2, 200]: the nodes of each component
    log_q = log_aggregate_density(z.reshape(-1, 1), mu, logvar).reshape(2, -1)
    log_p = -0.5 * (z**2 + math.log(2.0 * math.pi))
    true = ((log_q - log_p) * _W_GH).sum(1).mean().item()
    return {
        "aevb_sum": per_sample.sum().item(),
        "aevb_mean": per_sample.mean().item(),
        "true": true,
        "bound": wise_kl(mu, logvar).item(),
    }


def argmin_variance(key: str, means: Sequence[float], bounds: tuple[float, float] = (1e-4, 1e2)) -> float:
    """The shared variance in ``bounds`` that minimises the term ``key`` of :func:`two_posterior_terms`.

    Minimised over ``log v`` by :func:`scipy.optimize.minimize_scalar` (bounded, ``xatol`` 1e-10).
    """
    if key not in TERMS:
        raise ValueError(f"key must be one of {TERMS}, got {key!r}")
    res = optimize.minimize_scalar(
        lambda lv: two_posterior_terms(means, math.exp(lv))[key],
        bounds=(math.log(bounds[0]), math.log(bounds[1])),
        method="bounded",
        options={"xatol": 1e-10},
    )
    return math.exp(res.x)
