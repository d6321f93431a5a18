"""The WAE paper's MNIST networks (Tolstikhin et al., 2018; official code ``tolstikhin/wae``).

Used by chapter 6 in the ``paper`` profile. From ``configs.py`` (``config_mnist``) and
``models.py`` of the official code: 4x4 kernels, batch norm, ReLU.

- Encoder (``dcgan``, 4 layers of up to 1024 filters): stride-2 convolutions with 128, 256, 512,
  1024 filters and TensorFlow's ``SAME`` padding (28 -> 14 -> 7 -> 4 -> 2), then a linear layer to
  ``mu`` (and a second to ``log sigma^2``: the Gaussian option; a deterministic WAE ignores it).
- Decoder (``dcgan_mod``, 3 layers): a linear layer to a 7x7x1024 map, ReLU, stride-2 transposed
  convolutions to 14x14x512 and 28x28x256 (batch norm, ReLU), and a last stride-1 layer to one
  channel. We output logits for the Bernoulli likelihood the other chapters use (the official
  code applies a sigmoid and a squared-error cost; chapter 6 says so).
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from wisetut.models.base import AutoEncoder

__all__ = ["wae_mnist_autoencoder", "Conv2dSame", "bn_relu"]


class Conv2dSame(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow's ``SAME`` padding: output size ``ceil(input / stride)``."""

    def forward(self, x: Tensor) -> Tensor:
        pads = []
        for size, k, s in zip(x.shape[:-3:-1], self.kernel_size[::-1], self.stride[::-1]):  # W, then H
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


def bn_relu(c: int) -> list[nn.Module]:
    """Batch norm and ReLU as the official WAE code has them (eps 1e-5, decay 0.9: PyTorch's momentum 0.1)."""
    return [nn.BatchNorm2d(c, eps=1e-5, momentum=0.1), nn.ReLU()]


def wae_mnist_autoencoder(latent_dim: int = 8, filters: int = 1024) -> AutoEncoder:
    """The official WAE MNIST encoder and decoder for ``[batch, 1, 28, 28]`` digits in [0, 1].

    ``filters`` is the widest layer (1024 in the WAE paper).
    """
    if latent_dim < 1 or filters < 8 or filters % 8:
        raise ValueError(f"need latent_dim >= 1 and filters a positive multiple of 8, got {latent_dim}, {filters}")
    f = filters
    encoder = nn.Sequential(
        Conv2dSame(1, f // 8, 4, stride=2), *bn_relu(f // 8),  # 14
        Conv2dSame(f // 8, f // 4, 4, stride=2), *bn_relu(f // 4),  # 7
        Conv2dSame(f // 4, f // 2, 4, stride=2), *bn_relu(f // 2),  # 4
        Conv2dSame(f // 2, f, 4, stride=2), *bn_relu(f),  # 2
        nn.Flatten(),
        nn.Linear(f * 2 * 2, 2 * latent_dim),  # mu and logvar side by side
    )  # fmt: skip
    decoder = nn.Sequential(
        nn.Linear(latent_dim, 7 * 7 * f), nn.Unflatten(1, (f, 7, 7)), nn.ReLU(),
        nn.ConvTranspose2d(f, f // 2, 4, stride=2, padding=1), *bn_relu(f // 2),  # 14
        nn.ConvTranspose2d(f // 2, f // 4, 4, stride=2, padding=1), *bn_relu(f // 4),  # 28
        Conv2dSame(f // 4, 1, 4, stride=1),  # a stride-1 transposed convolution is a convolution: logits
    )  # fmt: skip
    return AutoEncoder(encoder, decoder, latent_dim, likelihood="bernoulli", data_shape=(1, 28, 28))
