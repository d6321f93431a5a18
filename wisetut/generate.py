"""Decoding what an auto-encoder has learned: random samples from the prior, and interpolations.

The WAE slides (Tolstikhin et al., 2018) judge a generative auto-encoder by three pictures: *random samples*
(decode ``z ~ p(z) = N(0, prior_var I)``), *test reconstructions* and *interpolations* (decode the
points on the line between two held-out codes). The MNIST and faces chapters draw all three.
A code is the posterior mean ``mu(x)``; every image is the decoder's mean in data space.
"""

from __future__ import annotations

import torch
from torch import Tensor

from wisetut.latent import encode_all
from wisetut.models.base import AutoEncoder, eval_mode

__all__ = ["decode_mean", "sample_prior", "interpolate"]


@torch.no_grad()
def decode_mean(model: AutoEncoder, z: Tensor, batch_size: int = 1000) -> Tensor:
    """The decoder's mean image of each code ``z`` ``[N, latent]``, on the CPU."""
    if z.dim() != 2 or z.shape[1] != model.latent_dim:
        raise ValueError(f"z must be [N, {model.latent_dim}], got {tuple(z.shape)}")
    dev = next(model.parameters()).device
    with eval_mode(model):
        out = [model.mean_output(model.decode(z[i : i + batch_size].to(dev)).float()).cpu() for i in range(0, len(z), batch_size)]
    return torch.cat(out)


@torch.no_grad()
def sample_prior(model: AutoEncoder, n: int, *, seed: int = 0, prior_var: float = 1.0) -> Tensor:
    """``n`` random samples: decoded ``z ~ N(0, prior_var I)``, drawn from a seeded generator."""
    if n < 1 or not prior_var > 0:
        raise ValueError(f"need n >= 1 and prior_var > 0, got {n} and {prior_var}")
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, model.latent_dim, generator=g) * prior_var**0.5
    return decode_mean(model, z)


@torch.no_grad()
def interpolate(model: AutoEncoder, x_a: Tensor, x_b: Tensor, steps: int = 8) -> Tensor:
    """Decoded codes on the line from ``mu(x_a)`` to ``mu(x_b)``: ``[P, steps, *data_shape]``.

    ``x_a`` and ``x_b`` are batches of ``P`` inputs each; the first and last of the ``steps``
    images of a row are the reconstructions of its two ends.
    """
    if x_a.shape != x_b.shape:
        raise ValueError(f"x_a and x_b must have the same shape, got {tuple(x_a.shape)} and {tuple(x_b.shape)}")
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    mu_a, mu_b = encode_all(model, x_a)[0], encode_all(model, x_b)[0]
    t = torch.linspace(0.0, 1.0, steps).view(1, steps, 1)
    z = (1 - t) * mu_a[:, None] + t * mu_b[:, None]  # [P, steps, latent]
    return decode_mean(model, z.reshape(-1, model.latent_dim)).view(len(x_a), steps, *model.data_shape)
