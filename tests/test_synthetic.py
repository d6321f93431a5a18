"""Chapters 2 and 3's made-up posteriors: the regimes as described, and Fig. 4's prior terms against closed forms."""

import math

import pytest
import torch

from wisetut.quadrature import mixture_kl_by_quadrature
from wisetut.synthetic import REGIMES, TERMS, argmin_variance, regime_posteriors, two_posterior_terms


@pytest.mark.parametrize("regime", REGIMES)
def test_regimes_are_seeded_float64_batches(regime):
    a = regime_posteriors(regime, 32, 3, torch.Generator().manual_seed(1))
    b = regime_posteriors(regime, 32, 3, torch.Generator().manual_seed(1))
    assert all(t.shape == (32, 3) and t.dtype == torch.float64 for t in a)
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_regimes_look_as_described():
    g = torch.Generator().manual_seed(0)
    mu, logvar = regime_posteriors("separated", 4096, 2, g)
    assert torch.allclose(logvar.exp(), torch.tensor(1e-3, dtype=torch.float64)) and 2.8 < mu.std() < 3.2
    mu, logvar = regime_posteriors("overlapping", 4096, 2, g)
    assert mu.abs().mean() < 0.1 and 0.18 < logvar.std() < 0.22
    mu, logvar = regime_posteriors("VAE-like", 4096, 2, g)
    assert 0.01 <= logvar.exp().min() and logvar.exp().max() <= 0.1 and 0.95 < mu.std() < 1.05
    with pytest.raises(ValueError, match="regime must be one of"):
        regime_posteriors("wide", 4, 2, g)


@pytest.mark.parametrize("m, v", [(1.0, 0.5), (0.3, 2.0), (2.0, 0.05), (1.0, 1e-3)])
def test_two_posterior_terms_match_closed_forms_and_scipy(m, v):
    t = two_posterior_terms((-m, m), v)
    assert set(t) == set(TERMS)
    per_sample = 0.5 * (m**2 + v - 1.0 - math.log(v))  # KL(N(+-m, v) || N(0, 1)), Eq. 26's term
    assert t["aevb_mean"] == pytest.approx(per_sample, rel=1e-12) and t["aevb_sum"] == pytest.approx(2 * per_sample, rel=1e-12)
    assert t["true"] == pytest.approx(mixture_kl_by_quadrature((-m, m), v), abs=1e-7)  # scipy's quad, independent
    assert t["true"] <= t["bound"] + 1e-12  # Eq. 21 bounds Eq. 18


def test_one_posterior_twice_is_the_single_gaussian_case():
    t = two_posterior_terms((0.4, 0.4), 0.7)
    assert t["true"] == pytest.approx(t["aevb_mean"], abs=1e-10)  # the aggregate is the posterior itself
    assert t["bound"] - t["true"] == pytest.approx((1 - math.log(2)) / 2, abs=1e-10)  # Jensen's gap of one Gaussian


def test_argmin_variance_finds_the_known_minimisers():
    assert argmin_variance("aevb_sum", (-1.0, 1.0)) == pytest.approx(1.0, abs=1e-6)  # AEVB: v = 1 for any means
    v = argmin_variance("bound", (-1.0, 1.0))
    r = 1.0 / v
    assert v == pytest.approx(1 - 2 * r / (1 + math.exp(r)), abs=1e-8)  # the bound's fixed-point condition
    with pytest.raises(ValueError, match="key must be one of"):
        argmin_variance("elbo", (-1.0, 1.0))
    with pytest.raises(ValueError, match="two means and a positive variance"):
        two_posterior_terms((0.0, 1.0, 2.0), 1.0)
