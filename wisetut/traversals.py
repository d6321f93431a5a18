"""Latent traversals, and how smoothly the decoded image changes along them (chapter 9).

A *traversal* decodes a held-out code ``z`` while one coordinate ``z_j`` sweeps, in ``steps`` equal steps,
from the 2nd to the 98th percentile of the held-out codes (posterior means) in that coordinate, so methods
whose codes live on different scales are compared over the data each one uses. From the root-mean-square
pixel change ``s_t`` between consecutive decoded images, :func:`smoothness` gives:

- **change per step**: the mean of ``s_t`` (one step is 1/(steps - 1) of the range);
- **roughness**: ``(steps - 1) sum s_t^2 / (sum s_t)^2``, from 1 (the change spread evenly over the sweep)
  to ``steps - 1`` (all of it in one jump);
- **monotone**: whether ``||x_t - x_0||`` never falls along the sweep by more than 1% of its largest value.

The summaries weight every traversal by its path length ``sum s_t``, so coordinates the decoder ignores
(whose roughness is noise) do not dominate them.
"""

from __future__ import annotations

import torch
from torch import Tensor

from wisetut.models.base import AutoEncoder, eval_mode

__all__ = ["traversal_ranges", "traverse", "smoothness"]


def traversal_ranges(codes: Tensor, low: float = 0.02, high: float = 0.98) -> Tensor:
    """``[D, 2]``: the ``low`` and ``high`` quantiles of each coordinate of ``codes`` ``[N, D]``."""
    if codes.dim() != 2 or len(codes) < 2 or not 0 <= low < high <= 1:
        raise ValueError(f"need codes [N >= 2, D] and 0 <= low < high <= 1, got {tuple(codes.shape)}, {low}, {high}")
    return torch.quantile(codes.float(), torch.tensor([low, high]), dim=0).T.contiguous()


@torch.no_grad()
def traverse(model: AutoEncoder, z: Tensor, ranges: Tensor, steps: int = 9) -> Tensor:
    """Decoded traversals ``[n, D, steps, *data_shape]``: code ``z[i]`` with coordinate ``j`` swept over ``ranges[j]``."""
    n, d = z.shape
    if ranges.shape != (d, 2) or steps < 2:
        raise ValueError(f"need ranges [{d}, 2] and steps >= 2, got {tuple(ranges.shape)} and {steps}")
    t = torch.linspace(0, 1, steps)
    values = ranges[:, :1] + (ranges[:, 1:] - ranges[:, :1]) * t  # [D, steps]
    zz = z[:, None, None, :].repeat(1, d, steps, 1)  # [n, D, steps, D]
    idx = torch.arange(d)
    zz[:, idx, :, idx] = values[None].expand(n, d, steps).transpose(0, 1)
    device = next(model.parameters()).device
    with eval_mode(model):
        out = model.mean_output(model.decode(zz.reshape(-1, d).to(device))).float().cpu()
    return out.view(n, d, steps, *model.data_shape)


def smoothness(paths: Tensor, tol: float = 0.01) -> dict:
    """Smoothness of traversals ``[n, D, steps, ...]`` (from :func:`traverse`).

    Returns:
        ``{"change_per_step", "roughness", "monotone"}``, each weighted by path length over all
        traversals, plus ``"per_dim"``: the same three for each coordinate and its mean path length.
    """
    if paths.dim() < 4 or paths.shape[2] < 2:
        raise ValueError(f"need traversals [n, D, steps >= 2, ...], got {tuple(paths.shape)}")
    x = paths.flatten(3).double()
    steps = x.shape[2]
    s = (x[:, :, 1:] - x[:, :, :-1]).square().mean(-1).sqrt()  # [n, D, steps - 1]
    length = s.sum(-1)  # [n, D]
    rough = (steps - 1) * s.square().sum(-1) / length.square().clamp_min(1e-24)
    dist = (x - x[:, :, :1]).square().mean(-1).sqrt()  # distance from the first image [n, D, steps]
    drop = (dist.cummax(-1).values - dist).amax(-1)
    mono = (drop <= tol * dist.amax(-1).clamp_min(1e-12)).double()
    w = length / length.sum().clamp_min(1e-24)

    def weighted(v, weights):
        return float((v * weights).sum())

    per_dim = []
    for j in range(x.shape[1]):
        wj = length[:, j] / length[:, j].sum().clamp_min(1e-24)
        per_dim.append(
            {
                "path_length": float(length[:, j].mean()),
                "change_per_step": float(s[:, j].mean()),
                "roughness": weighted(rough[:, j], wj),
                "monotone": weighted(mono[:, j], wj),
            }
        )
    return {
        "change_per_step": weighted(s.mean(-1), w),
        "roughness": weighted(rough, w),
        "monotone": weighted(mono, w),
        "per_dim": per_dim,
    }
