"""Numbers for what Fig. 1 shows by eye: how smooth, compact and separated posteriors are.

The paper calls WiSE-ALE's latent space *smooth* (each posterior decays smoothly: not a point), *compact*
(posteriors fill a region near the origin with few gaps) and *separated* (neighbouring posteriors have narrow
but clear borders). :func:`measure_latents` measures, for one trained model (chapters 5 and 10):

- posterior scale (the geometric-mean standard deviation of each ``q(z|x_i)``), the nearest-neighbour
  distance between posterior means, and scale relative to it;
- overlap with the nearest neighbour: the Bhattacharyya coefficient ``BC = int sqrt(q_i q_j) dz`` in [0, 1]
  (1: identical, 0: disjoint), maximised over j != i;
- spread: ``KL(q(z|D) || N(0, I))`` by Monte Carlo (:func:`wisetut.estimators.mc_aggregate_kl`);
- gaps (:func:`compactness`): the share of the codes' region that no posterior covers, and the distance
  there to the nearest posterior in units of its standard deviation;
- class separation (k-nearest-neighbour accuracy of the means) and active units (Burda et al., 2016).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor

from wisetut.checks import check_count
from wisetut.data.images import as_float_batch
from wisetut.estimators import mc_aggregate_kl
from wisetut.models.base import AutoEncoder, eval_mode
from wisetut.objectives import check_posterior

__all__ = ["encode_all", "log_bhattacharyya", "latent_summary", "compactness", "knn_accuracy", "active_units", "measure_latents"]


@torch.no_grad()
def encode_all(model: AutoEncoder, x: Tensor, batch_size: int = 1024) -> tuple[Tensor, Tensor]:
    """``(mu, logvar)`` of every row of ``x``, on the CPU, in float32.

    ``x`` may be uint8 images (chapters 7 and 9 keep their data so): each chunk is scaled to [0, 1]
    on the model's device, so that the whole data set is never held in float32.
    """
    device = next(model.parameters()).device
    with eval_mode(model):
        parts = [model.encode(as_float_batch(x[s : s + batch_size].to(device))) for s in range(0, len(x), batch_size)]
    return torch.cat([p[0] for p in parts]).float().cpu(), torch.cat([p[1] for p in parts]).float().cpu()


def log_bhattacharyya(mu_a: Tensor, logvar_a: Tensor, mu_b: Tensor, logvar_b: Tensor) -> Tensor:
    """``log BC`` between every pair of diagonal Gaussians: ``[A, B]``.

    ``-log BC = 1/8 sum_k delta^2 / sbar + 1/2 sum_k log(sbar / sqrt(var_a var_b))``,
    ``sbar = (var_a + var_b) / 2``.
    """
    check_posterior(mu_a, logvar_a, "_a")
    check_posterior(mu_b, logvar_b, "_b")
    return _log_bc(mu_a[:, None, :], logvar_a[:, None, :], mu_b[None, :, :], logvar_b[None, :, :])


def _log_bc(mu_a: Tensor, logvar_a: Tensor, mu_b: Tensor, logvar_b: Tensor) -> Tensor:
    """:func:`log_bhattacharyya`'s formula on broadcastable ``[..., d]`` tensors (every pair, or chosen pairs)."""
    sbar = 0.5 * (logvar_a.exp() + logvar_b.exp())
    delta2 = (mu_a - mu_b).square()
    d_b = 0.125 * (delta2 / sbar).sum(-1) + 0.5 * (sbar.log() - 0.5 * (logvar_a + logvar_b)).sum(-1)
    return -d_b


# Pairwise measures run over blocks of this many rows, so that 10,000 held-out posteriors against
# 60,000 training means (chapter 5's paper profile) need tens of MB, not gigabytes.
_ROWS = 1024


def knn_accuracy(train_mu: Tensor, train_y: Tensor, test_mu: Tensor, test_y: Tensor, k: int = 5) -> float:
    """Accuracy of a k-nearest-neighbour vote (Euclidean, on posterior means) for held-out labels."""
    pred = []
    for s in range(0, len(test_mu), _ROWS):
        nearest = torch.cdist(test_mu[s : s + _ROWS], train_mu).topk(k, largest=False).indices
        pred.append(torch.mode(train_y[nearest], dim=1).values)
    return (torch.cat(pred) == test_y).float().mean().item()


def _nearest_neighbours(mu: Tensor, logvar: Tensor) -> tuple[Tensor, Tensor]:
    """Per posterior: the distance to the nearest other mean, and the largest Bhattacharyya coefficient with another.

    Exact, without comparing every pair: a KD-tree (``scipy.spatial.cKDTree``) gives each mean's
    nearest others, and bounds where a larger coefficient could be. Since ``-log BC >= 1/8 sum_k
    delta_k^2 / sbar_k >= |delta|^2 / (4 (vmax_i + vmax))`` (``vmax_i`` posterior ``i``'s largest
    variance, ``vmax`` the set's), only means within ``sqrt(4 (vmax_i + vmax) b_i)`` of ``mu_i`` can
    beat the best ``-log BC = b_i`` among its nearest means; those candidates are scored exactly by
    :func:`log_bhattacharyya`. The same values as the brute force over all pairs
    (:func:`_nearest_neighbours_brute`, ``tests/test_latent_fast.py``).
    """
    n = len(mu)
    if n < 2:
        raise ValueError(f"nearest neighbours need at least 2 posteriors, got {n}")
    means = mu.detach().double().cpu().numpy()
    tree = cKDTree(means)
    k = min(n, 9)
    dist, idx = tree.query(means, k=k)  # each point's k nearest means, itself first (or a duplicate of it)
    rows = np.arange(n)
    own = idx == rows[:, None]
    nn_dist = np.where(own, np.inf, dist).min(1)  # k >= 2 indices, so at least one other mean
    near = torch.as_tensor(idx)
    first = -_pair_log_bc(mu, logvar, torch.arange(n)[:, None].expand_as(near), near)  # -log BC to the k nearest
    first[torch.as_tensor(own)] = math.inf
    vmax = logvar.detach().double().exp().max(1).values.cpu().numpy()
    radius = np.sqrt(4.0 * (vmax + vmax.max()) * first.min(1).values.numpy()) * (1 + 1e-9)
    counts = tree.query_ball_point(means, radius, return_length=True)
    if counts.sum() > n * n / 16:  # posteriors of very different widths: the bound prunes little
        return torch.as_tensor(nn_dist, dtype=mu.dtype), _nearest_neighbours_brute(mu, logvar)[1]
    i = torch.as_tensor(np.repeat(rows, counts))
    j = torch.as_tensor(np.concatenate(tree.query_ball_point(means, radius)).astype(np.int64))
    i, j = i[i != j], j[i != j]
    # the k nearest too (a candidate set may hold only the point itself); -log BC, smallest per posterior
    i = torch.cat([i, torch.arange(n)[:, None].expand_as(near)[~torch.as_tensor(own)]])
    j = torch.cat([j, near[~torch.as_tensor(own)]])
    neg_log_bc = -_pair_log_bc(mu, logvar, i, j)
    best = torch.full((n,), math.inf, dtype=neg_log_bc.dtype).scatter_reduce(0, i, neg_log_bc, reduce="amin")
    return torch.as_tensor(nn_dist, dtype=mu.dtype), (-best).exp()


def _pair_log_bc(mu: Tensor, logvar: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """``log BC`` between posteriors ``a[i, j]`` and ``b[i, j]`` (index tensors of one shape), elementwise."""
    return _log_bc(mu[a], logvar[a], mu[b], logvar[b])


def _nearest_neighbours_brute(mu: Tensor, logvar: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`_nearest_neighbours` over every pair, in blocks of rows: the reference (tests, benchmarks)."""
    nn_dist, nn_bc = [], []
    for s in range(0, len(mu), _ROWS):
        rows = torch.arange(s, min(s + _ROWS, len(mu)))
        dist = torch.cdist(mu[rows], mu)
        dist[torch.arange(len(rows)), rows] = math.inf
        nn_dist.append(dist.min(1).values)
        log_bc = log_bhattacharyya(mu[rows], logvar[rows], mu, logvar)
        log_bc[torch.arange(len(rows)), rows] = -math.inf
        nn_bc.append(log_bc.max(1).values.exp())
    return torch.cat(nn_dist), torch.cat(nn_bc)


def latent_summary(mu: Tensor, logvar: Tensor, n_samples: int = 20_000, seed: int = 0) -> dict[str, float]:
    """Smoothness, compactness and separation of a set of posteriors (float64 internally).

    Returns medians over posteriors of ``scale`` (geometric-mean sigma), ``nn_distance``
    (distance from each mean to the nearest other mean), ``scale_over_nn`` (their ratio),
    ``nn_bhattacharyya`` (overlap with the most-overlapping other posterior), and the Monte Carlo
    ``aggregate_kl`` (with ``aggregate_kl_se``) of the whole set to ``N(0, I)``.
    """
    check_posterior(mu, logvar)
    mu, logvar = mu.double(), logvar.double()
    n = len(mu)
    scale = (0.5 * logvar).mean(1).exp()
    nn_dist, nn_bc = _nearest_neighbours(mu, logvar)
    kl, se = mc_aggregate_kl(mu, logvar, n_samples=n_samples, generator=torch.Generator().manual_seed(seed), fast=True)
    return {
        "n": n,
        "scale": scale.median().item(),
        "nn_distance": nn_dist.median().item(),
        "scale_over_nn": (scale / nn_dist).median().item(),
        "nn_bhattacharyya": nn_bc.median().item(),
        "aggregate_kl": kl,
        "aggregate_kl_se": se,
    }


def compactness(
    mu: Tensor,
    logvar: Tensor,
    *,
    coverage_sigma: float = 2.0,
    radius: float | None = None,
    n_points: int = 10_000,
    seed: int = 0,
    chunk: int = 512,
) -> dict[str, float]:
    """Gaps between posteriors in the region their means occupy: compactness as the paper means it.

    The paper (Section 1) calls WiSE-ALE's latent space compact "as individual embeddings tend to
    occupy a maximal local area in the latent space with minimal gaps in between". That is local:
    do the posteriors ``q(z|x_i) = N(mu_i, diag sigma_i^2)`` fill the space between their
    neighbours? (How far the whole aggregate sits from the prior, its KL, is another matter.)

    - **The region** ``R``: every point within ``radius`` of some posterior mean. ``radius``
      defaults to ``r`` = the median distance from a mean to its nearest other mean, the codes'
      typical spacing, so ``R`` holds the space between neighbouring codes. It depends on the means
      only: posteriors that shrink leave gaps in it. (The region where the aggregate ``q(z|D)``
      itself is dense would not do: it is dense only where posteriors are, so it is covered by
      construction, as are points drawn from ``q(z|D)``.)
    - **The gap at z**, in standard deviations of the nearest posterior:
      ``g(z) = min_i sqrt(sum_k (z_k - mu_ik)^2 / sigma_ik^2)`` (the Mahalanobis distance).
    - **Covered**: ``g(z) <= coverage_sigma`` (``c``): some posterior's density at ``z`` is at
      least ``exp(-c^2 / 2)`` of its peak (0.135 at the default ``c = 2``).

    Returns ``uncovered_share``, the share of ``R``'s volume (area in 2-D) that no posterior covers
    (0: compact, no gaps; near 1: small posteriors with gaps between them); ``median_gap_sigma``,
    the median of ``g`` over ``R``; and the ``radius``, ``coverage_sigma`` and ``n_points`` used.
    Both measures are unchanged when the latent space is rescaled.

    By Monte Carlo: ``n_points`` points uniform on ``R`` (a mean at random, a point uniform in the
    ball of radius ``radius`` around it, kept with probability one over the number of such balls it
    lies in), and ``g`` exact at each (:func:`_nearest_gap`, float64). Well under a second for
    10,000 posteriors in 2-D.
    """
    check_posterior(mu, logvar)
    check_count("n_points", n_points, 1)
    check_count("chunk", chunk, 1)
    if not coverage_sigma > 0:
        raise ValueError(f"need coverage_sigma > 0, got {coverage_sigma}")
    n, dim = mu.shape
    means = mu.detach().double().cpu().numpy()
    tree = cKDTree(means)
    if radius is None:
        if n < 2:
            raise ValueError("the default radius (the median nearest-neighbour distance) needs at least 2 posteriors")
        radius = float(np.median(tree.query(means, k=2)[0][:, 1]))
    if not radius > 0:
        raise ValueError(f"radius must be positive, got {radius} (identical means? pass radius=...)")
    rng = np.random.default_rng(seed)
    kept, have = [], 0
    while have < n_points:
        m = 4 * (n_points - have) + 16
        direction = rng.standard_normal((m, dim))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        z = means[rng.integers(0, n, m)] + direction * (radius * rng.random((m, 1)) ** (1 / dim))
        balls = np.maximum(tree.query_ball_point(z, radius, return_length=True), 1)
        z = z[rng.random(m) * balls < 1]
        kept.append(z)
        have += len(z)
    gap = _nearest_gap(np.concatenate(kept)[:n_points], means, logvar, tree, chunk)
    return {
        "uncovered_share": float((gap > coverage_sigma).mean()),
        "median_gap_sigma": float(np.median(gap)),
        "radius": radius,
        "coverage_sigma": float(coverage_sigma),
        "n_points": n_points,
    }


def _nearest_gap(points: np.ndarray, means: np.ndarray, logvar: Tensor, tree: cKDTree, chunk: int, k: int = 64) -> np.ndarray:
    """``min_i`` of the Mahalanobis distance from each point to posterior ``i``, exactly.

    First among the ``k`` nearest means (Euclidean): a posterior beyond them is at least as far as
    the ``k``-th, so in units of sigma at least that distance over the largest sigma of all. Points
    whose minimum so far is not below that bound are checked against every posterior, in chunks.
    """
    n = len(means)
    inv_sd = np.exp(-0.5 * logvar.detach().double().cpu().numpy())
    k = min(k, n)
    dist, idx = tree.query(points, k=k)
    dist, idx = dist.reshape(len(points), k), idx.reshape(len(points), k)
    gap = np.sqrt((((points[:, None, :] - means[idx]) * inv_sd[idx]) ** 2).sum(-1)).min(1)
    unsure = np.flatnonzero(gap > dist[:, -1] * inv_sd.min()) if k < n else []
    for s in range(0, len(unsure), chunk):
        rows = unsure[s : s + chunk]
        d2 = np.zeros((len(rows), n))
        for j in range(means.shape[1]):
            d2 += ((points[rows, j, None] - means[None, :, j]) * inv_sd[None, :, j]) ** 2
        gap[rows] = np.sqrt(d2.min(1))
    return gap


def active_units(mu: Tensor, threshold: float = 0.01) -> int:
    """Dimensions whose posterior mean varies over the data: ``Var_x(E[z_k|x]) > threshold`` (Burda et al., 2016).

    A collapsed dimension (its posterior is the prior for every input) has a constant mean.
    """
    if mu.dim() != 2 or len(mu) < 2:
        raise ValueError(f"mu must have shape [N >= 2, d], got {tuple(mu.shape)}")
    return int((mu.double().var(0) > threshold).sum())


def measure_latents(
    model: AutoEncoder,
    x_test: Tensor,
    *,
    x_train: Tensor | None = None,
    y_train: Tensor | None = None,
    y_test: Tensor | None = None,
    n_samples: int = 20_000,
    seed: int = 0,
    k: int = 5,
    gaps: bool = False,
) -> dict[str, float]:
    """:func:`latent_summary` of the held-out posteriors, their active units, their smallest log-variance,
    (with labels) k-NN accuracy, and (with ``gaps=True``) :func:`compactness` (chapters 5 and 10).

    ``knn_accuracy`` votes among the posterior means of ``x_train`` for the labels ``y_test``;
    ``min_logvar`` says how near a float guard (WiSE-ALE's ``logvar_floor``) the posteriors came.
    """
    mu, logvar = encode_all(model, x_test)
    out = latent_summary(mu, logvar, n_samples=n_samples, seed=seed)
    if gaps:
        c = compactness(mu, logvar, seed=seed)
        out.update(uncovered_share=c["uncovered_share"], median_gap_sigma=c["median_gap_sigma"])
    out["min_logvar"] = logvar.min().item()
    out["active_units"] = active_units(mu)
    if y_test is not None:
        if x_train is None or y_train is None:
            raise ValueError("k-NN accuracy needs x_train and y_train beside y_test")
        out["knn_accuracy"] = knn_accuracy(encode_all(model, x_train)[0], y_train, mu, y_test, k=k)
    return out
