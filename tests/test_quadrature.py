"""wisetut.quadrature: the scipy references agree with closed forms written out here, on cases with known answers."""

import math

import numpy as np
import pytest
from scipy import stats

from wisetut.quadrature import log_overlap_by_quadrature, mixture_kl_by_quadrature


@pytest.mark.parametrize("a, var_a, b, var_b", [(0.0, 1.0, 0.0, 1.0), (-3.0, 1e-3, 0.5, 1e2), (1000.0, 1e-6, -3.0, 1.0)])
def test_overlap_is_a_normal_density_of_the_difference(a, var_a, b, var_b):
    """Appendix B: int N(z|a, va) N(z|b, vb) dz = N(a; b, va + vb), also where the overlap underflows."""
    log_i, warned = log_overlap_by_quadrature(a, var_a, b, var_b)
    expected = stats.norm.logpdf(a, b, math.sqrt(var_a + var_b))
    assert log_i == pytest.approx(expected, rel=1e-9, abs=1e-9) and not warned


def test_mixture_kl_of_one_component_is_the_gaussian_kl():
    for m, v in ((0.0, 1.0), (1.5, 0.2), (-2.0, 4.0)):
        assert mixture_kl_by_quadrature([m], v) == pytest.approx(0.5 * (v + m**2 - 1 - math.log(v)), abs=1e-10)


def test_mixture_kl_of_two_components_against_a_riemann_sum():
    means, var = (-1.0, 1.0), 0.3
    z = np.linspace(-12, 12, 400_001)
    log_q = np.logaddexp(stats.norm.logpdf(z, -1.0, math.sqrt(var)), stats.norm.logpdf(z, 1.0, math.sqrt(var))) - math.log(2)
    riemann = np.sum(np.exp(log_q) * (log_q - stats.norm.logpdf(z))) * (z[1] - z[0])
    assert mixture_kl_by_quadrature(means, var) == pytest.approx(riemann, abs=1e-8)
    # identical components: the mixture is the single Gaussian
    assert mixture_kl_by_quadrature((0.7, 0.7), var) == pytest.approx(mixture_kl_by_quadrature((0.7,), var), abs=1e-12)


def test_bad_inputs_say_what_was_expected():
    with pytest.raises(ValueError, match="var_b must be a positive finite variance"):
        log_overlap_by_quadrature(0.0, 1.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="at least one mean"):
        mixture_kl_by_quadrature([], 1.0)
    with pytest.raises(ValueError, match="positive finite"):
        mixture_kl_by_quadrature([0.0], float("nan"))
