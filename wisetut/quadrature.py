"""Independent references for the closed forms: the same integrals by scipy's adaptive quadrature.

Nothing here calls the package's own formulas (``log_gaussian_overlap``, ``wise_kl``,
``log_aggregate_density``): the chapters and the tests compare those with these integrals, so a
mistake in one is not repeated in the other. Both functions work in one dimension on Python
floats and NumPy, not torch.

- :func:`log_overlap_by_quadrature`: ``log of int N(z|a, var_a) N(z|b, var_b) dz``, the overlap of
  two Gaussian posteriors inside Eq. 21 (Appendix B's integral; chapter 2 checks Eq. 12 on it).
- :func:`mixture_kl_by_quadrature`: ``KL(q || N(0, 1))`` for the aggregate posterior
  ``q = (1/M) sum_i N(m_i, var)`` of Eq. 18 (chapter 3's two posteriors).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from scipy import integrate, optimize, stats

__all__ = ["log_overlap_by_quadrature", "mixture_kl_by_quadrature"]


def _log_normal(z: float, mean: float, var: float) -> float:
    return -0.5 * (math.log(2 * math.pi * var) + (z - mean) ** 2 / var)


def _check_variance(**variances: float) -> None:
    for name, v in variances.items():
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive finite variance, got {v}")


def log_overlap_by_quadrature(a: float, var_a: float, b: float, var_b: float) -> tuple[float, bool]:
    """``log int N(z|a, var_a) N(z|b, var_b) dz`` by ``scipy.integrate.quad``, in log space (chapter 2).

    The integrand is scaled by its value at its peak (found numerically between the means: the
    log-integrand is concave), so the integral is of order one even where the overlap itself
    underflows (``log I`` down to about -1e12), and integrated over 40 standard deviations of the
    narrower factor on each side of the peak.

    Returns:
        ``(log I, warned)``: ``warned`` says whether ``quad`` raised an ``IntegrationWarning``
        (round-off: it does for ``|log I|`` beyond about 1e4, where the closed form's own float64
        rounding is larger still).

    Raises:
        ValueError: for a variance that is not positive and finite.
    """
    _check_variance(var_a=var_a, var_b=var_b)

    def neg_log_f(z):
        return -(_log_normal(z, a, var_a) + _log_normal(z, b, var_b))

    if a == b:
        peak = a
    else:
        peak = optimize.minimize_scalar(
            neg_log_f, bounds=(min(a, b), max(a, b)), method="bounded", options={"xatol": 1e-12 * abs(b - a)}
        ).x
    shift = -neg_log_f(peak)
    width = math.sqrt(min(var_a, var_b))  # the product is narrower than either factor
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", integrate.IntegrationWarning)
        value, _ = integrate.quad(
            lambda z: math.exp(-neg_log_f(z) - shift),
            peak - 40 * width,
            peak + 40 * width,
            points=[peak],
            epsabs=0.0,
            epsrel=1e-12,
            limit=200,
        )
    return math.log(value) + shift, bool(caught)


def mixture_kl_by_quadrature(means: Sequence[float], var: float) -> float:
    """``KL(q || N(0, 1))`` with ``q(z) = (1/M) sum_i N(z | means[i], var)``, by ``scipy.integrate.quad`` (chapter 3).

    The aggregate posterior of Eq. 18 for ``M`` one-dimensional posteriors of one shared variance,
    integrated from 40 standard deviations below the smallest mean to 40 above the largest, with
    the means as break points.

    Raises:
        ValueError: for no means, or a variance that is not positive and finite.
    """
    _check_variance(var=var)
    means = [float(m) for m in means]
    if not means:
        raise ValueError("mixture_kl_by_quadrature needs at least one mean")
    s, log_m = math.sqrt(var), math.log(len(means))

    def integrand(z):
        log_q = np.logaddexp.reduce([stats.norm.logpdf(z, m, s) for m in means]) - log_m
        return math.exp(log_q) * (log_q - stats.norm.logpdf(z))

    return integrate.quad(
        integrand, min(means) - 40 * s, max(means) + 40 * s, points=sorted(set(means)), limit=500, epsabs=1e-13, epsrel=1e-12
    )[0]
