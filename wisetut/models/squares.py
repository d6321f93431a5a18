"""A small auto-encoder for the 32x32 fading squares (chapter 6): MLPs with a Gaussian likelihood.

Encoder 1024 -> 256 -> 128 -> (mu, log sigma^2); decoder latent -> 128 -> 256 -> 1024 (the mean
image; squared error is the Gaussian likelihood of :class:`AutoEncoder`), ``tanh`` hidden units
(:func:`wisetut.models.mlp.mlp`), no dropout. The data has one factor, so a small network suffices.
"""

from __future__ import annotations

from torch import nn

from wisetut.models.base import AutoEncoder
from wisetut.models.mlp import mlp

__all__ = ["squares_autoencoder"]


def squares_autoencoder(latent_dim: int = 2) -> AutoEncoder:
    """Encoder and decoder for ``[batch, 1, 32, 32]`` fading squares."""
    encoder = nn.Sequential(nn.Flatten(), mlp(32 * 32, 2 * latent_dim, hidden=(256, 128), dropout=0.0))
    decoder = mlp(latent_dim, 32 * 32, hidden=(128, 256), dropout=0.0)
    return AutoEncoder(encoder, decoder, latent_dim, likelihood="gaussian", data_shape=(1, 32, 32))
