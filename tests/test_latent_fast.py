"""The fast latent measures against their references: the same numbers, without every pair."""

from __future__ import annotations

import pytest
import torch

from wisetut.estimators import log_aggregate_density, log_aggregate_density_fast, mc_aggregate_kl
from wisetut.latent import _nearest_neighbours, _nearest_neighbours_brute


def _posteriors(n: int, d: int, logvar: float, spread: float, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(n, d, generator=g, dtype=torch.float64)
    return mu, logvar + spread * torch.randn(n, d, generator=g, dtype=torch.float64)


@pytest.mark.parametrize(
    "n, d, logvar, spread",
    [
        (500, 2, 0.0, 0.3),  # wide, merged posteriors (AEVB's)
        (500, 2, -6.0, 0.5),  # narrow, apart (WiSE-ALE's)
        (500, 2, -21.6, 0.2),  # points (WAE's)
        (400, 8, -2.0, 0.5),  # more dimensions
        (300, 2, -3.0, 4.0),  # widths over orders of magnitude: the bound prunes little (the brute force is used)
    ],
)
def test_nearest_neighbours_equal_the_brute_force(n, d, logvar, spread):
    mu, lv = _posteriors(n, d, logvar, spread)
    dist, bc = _nearest_neighbours(mu, lv)
    ref_dist, ref_bc = _nearest_neighbours_brute(mu, lv)
    torch.testing.assert_close(bc, ref_bc, rtol=1e-12, atol=0.0)  # the same pairs, the same formula
    torch.testing.assert_close(dist, ref_dist, rtol=1e-7, atol=1e-12)  # exact distances against cdist's


def test_nearest_neighbours_with_duplicate_means_and_a_far_pair():
    mu, lv = _posteriors(200, 2, -4.0, 0.3)
    mu[5] = mu[17]  # a duplicate: distance 0, and the largest coefficient is the other copy's
    lv[3] = 2.0  # one wide posterior: its best partner may be far from its nearest mean
    dist, bc = _nearest_neighbours(mu, lv)
    ref_dist, ref_bc = _nearest_neighbours_brute(mu, lv)
    assert dist[5] == dist[17] == 0.0
    torch.testing.assert_close(bc, ref_bc, rtol=1e-12, atol=0.0)
    with pytest.raises(ValueError, match="at least 2 posteriors"):
        _nearest_neighbours(mu[:1], lv[:1])


@pytest.mark.parametrize("logvar, atol", [(0.0, 1e-12), (-6.0, 1e-10), (-21.6, 1e-4)])
def test_the_mixture_density_by_matrix_products_equals_the_direct_sum(logvar, atol):
    mu, lv = _posteriors(2000, 2, logvar, 0.3)
    g = torch.Generator().manual_seed(1)
    idx = torch.randint(len(mu), (3000,), generator=g)
    z = mu[idx] + (0.5 * lv[idx]).exp() * torch.randn(3000, 2, generator=g, dtype=torch.float64)
    fast, ref = log_aggregate_density_fast(z, mu, lv, chunk=700), log_aggregate_density(z, mu, lv)
    torch.testing.assert_close(fast, ref, rtol=0.0, atol=atol)
    # far below the Monte Carlo error of the aggregate KL it enters
    kl, se = mc_aggregate_kl(mu, lv, n_samples=3000, generator=torch.Generator().manual_seed(2))
    assert (fast - ref).abs().mean() < 1e-3 * se
    kl_fast, _ = mc_aggregate_kl(mu, lv, n_samples=3000, generator=torch.Generator().manual_seed(2), fast=True)
    assert abs(kl_fast - kl) < 1e-3 * se
