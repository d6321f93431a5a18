"""latent.compactness: gaps between posteriors in the region their means occupy, on hand-built posteriors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from wisetut.latent import _nearest_gap, compactness


def lattice(side: int = 30, jitter: float = 0.1, seed: int = 0) -> torch.Tensor:
    """Means on a square lattice of spacing 1, each moved by up to ``jitter``."""
    g = torch.Generator().manual_seed(seed)
    grid = torch.stack(torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij"), -1).reshape(-1, 2).double()
    return grid + jitter * (2 * torch.rand(grid.shape, generator=g, dtype=torch.float64) - 1)


def logvar_of(sd, n: int) -> torch.Tensor:
    return torch.tensor(sd, dtype=torch.float64).log().mul(2).expand(n, 2).clone()


def test_tiling_posteriors_leave_no_gap():
    mu = lattice()
    out = compactness(mu, logvar_of([0.5, 0.5], len(mu)))
    assert out["radius"] <= 1.0  # every point of the region is within 1 = 2 sigma of a mean: covered
    assert out["uncovered_share"] == 0.0 and out["median_gap_sigma"] < 1.5


@pytest.mark.parametrize("sd", [[0.02, 0.02], [0.6, 0.02]], ids=["tiny", "thin in one dimension"])
def test_small_posteriors_with_gaps_between_them_are_not_compact(sd):
    mu = lattice()
    out = compactness(mu, logvar_of(sd, len(mu)))
    assert out["uncovered_share"] > 0.85, out
    assert out["median_gap_sigma"] > 5


def test_the_monte_carlo_share_is_the_share_of_the_regions_area():
    """Against a dense grid over the same region (points within r of a mean), computed directly.

    A lattice plus a dense cluster: sampled near a random mean without weighting, the cluster's
    hundred overlapping balls would get 40% of the points for 4% of the area.
    """
    cluster = 5 + 0.1 * lattice(side=10, jitter=0.0)
    mu, sd = torch.cat([lattice(side=12), cluster]), 0.25
    out = compactness(mu, logvar_of([sd, sd], len(mu)), n_points=20_000)
    r = out["radius"]
    lo, hi = mu.numpy().min(0) - r, mu.numpy().max(0) + r
    axes = np.meshgrid(*(np.arange(lo[k], hi[k], 0.01) for k in range(2)), indexing="ij")
    nearest = cKDTree(mu.numpy()).query(np.stack([a.ravel() for a in axes], -1))[0]
    gap = nearest[nearest <= r] / sd  # equal, isotropic posteriors: the nearest mean is the nearest posterior
    assert 0.1 < (gap > 2).mean() < 0.5  # a case with gaps and cover
    assert out["uncovered_share"] == pytest.approx((gap > 2).mean(), abs=0.015)
    assert out["median_gap_sigma"] == pytest.approx(np.median(gap), abs=0.05)


def test_rescaling_the_latent_space_changes_nothing():
    mu, logvar = lattice(side=10), logvar_of([0.3, 0.2], 100)
    a = compactness(mu, logvar, n_points=2_000)
    b = compactness(7 * mu, logvar + 2 * math.log(7), n_points=2_000)
    assert b["radius"] == pytest.approx(7 * a["radius"])
    assert b["uncovered_share"] == pytest.approx(a["uncovered_share"], abs=1e-3)
    assert b["median_gap_sigma"] == pytest.approx(a["median_gap_sigma"], rel=1e-9)


def test_the_nearest_posterior_is_exact_when_sigmas_differ_widely():
    """The k-nearest shortcut falls back to every posterior where a far, wide one could be nearer."""
    g = torch.Generator().manual_seed(1)
    mu = torch.randn(3_000, 2, generator=g, dtype=torch.float64)
    logvar = 3 * torch.randn(3_000, 2, generator=g, dtype=torch.float64) - 6
    points = np.random.default_rng(2).normal(size=(1_000, 2))
    fast = _nearest_gap(points, mu.numpy(), logvar, cKDTree(mu.numpy()), chunk=128, k=8)
    inv_sd = (-0.5 * logvar).exp().numpy()
    brute = np.sqrt((((points[:, None, :] - mu.numpy()[None]) * inv_sd[None]) ** 2).sum(-1)).min(1)
    np.testing.assert_allclose(fast, brute, rtol=1e-12)


def test_bad_arguments_are_clear_errors():
    mu, logvar = lattice(side=3), logvar_of([0.5, 0.5], 9)
    with pytest.raises(ValueError, match="coverage_sigma > 0"):
        compactness(mu, logvar, coverage_sigma=0)
    with pytest.raises(ValueError, match="at least 2 posteriors"):
        compactness(mu[:1], logvar[:1])
    with pytest.raises(ValueError, match="radius must be positive"):
        compactness(torch.zeros(4, 2), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="same shape"):
        compactness(mu, logvar[:, :1])
