"""The CelebA networks of the WiSE-ALE paper's Appendix D.3 (the WAE paper's, ``tolstikhin/wae``): chapter 7.

Appendix D.3 uses "the same encoder and decoder network used in WAE"; the official code's CelebA configuration
(``dcgan`` encoder, ``dcgan_mod`` decoder, 5x5 kernels, batch norm, ``SAME`` padding) fills in the rest:

- Encoder: stride-2 5x5 convolutions with 128, 256, 512, 1024 filters (64x64 RGB in [0, 1] down to 4x4), each
  with batch norm (in the official code, not the appendix) and ReLU; heads to ``mu``, ``log sigma^2`` in R^64.
- Decoder: linear to an 8x8x1024 map, ReLU, stride-2 5x5 transposed convolutions to 512, 256, 128 channels
  (16, 32, 64 pixels) with batch norm and ReLU, a stride-1 5x5 transposed convolution to 3 channels (the
  appendix's one channel is a misprint for RGB) and a sigmoid, as the official code for inputs in [0, 1].

Gaussian: ``-log p(x|z) = ||x - x_hat||^2`` over 12,288 values (:class:`~wisetut.models.AutoEncoder`). The WAE
code's ``0.05 ||x - y||^2`` on [-1, 1] is ``0.2 ||x - y||^2`` on [0, 1]: chapter 7 divides the WAE objectives
by 0.2 (penalty weights ``lambda / 0.2``). ``width`` multiplies every channel count (1 in ``paper``).
"""

from __future__ import annotations

from torch import nn

from wisetut.models.base import AutoEncoder
from wisetut.models.wae_mnist import bn_relu

__all__ = ["wae_celeba_autoencoder", "CELEBA_SHAPE", "PAPER_FILTERS", "WIDTH"]

CELEBA_SHAPE = (3, 64, 64)
PAPER_FILTERS = 1024  # the widest layer of D.3's encoder and decoder
# The channel factor of each profile: D.3 exactly in paper; 1/16 (8-16-32-64 filters, 0.53 M
# parameters against D.3's 40.8 M) for a standard run of about 25 minutes on a 2-core CPU; 1/32 in quick.
WIDTH = {"quick": 1 / 32, "standard": 1 / 16, "paper": 1.0}


def _conv_same(c_in: int, c_out: int, stride: int) -> nn.Conv2d:
    # TensorFlow's SAME with a 5x5 kernel: padding 2 (stride 2 halves, stride 1 keeps the size)
    return nn.Conv2d(c_in, c_out, 5, stride=stride, padding=2)


def _deconv_same_x2(c_in: int, c_out: int) -> nn.ConvTranspose2d:
    # a 5x5 stride-2 transposed convolution that doubles the size, as TensorFlow's SAME does
    return nn.ConvTranspose2d(c_in, c_out, 5, stride=2, padding=2, output_padding=1)


def wae_celeba_autoencoder(latent_dim: int = 64, width: float = 1.0) -> AutoEncoder:
    """Appendix D.3's encoder and decoder for ``[batch, 3, 64, 64]`` images in [0, 1].

    Args:
        latent_dim: size of ``z`` (64 in D.3).
        width: factor on every channel count (1: 128-256-512-1024 filters as in D.3); the
            widest layer ``1024 * width`` must be a positive multiple of 8.
    """
    f = round(PAPER_FILTERS * width)
    if latent_dim < 1 or f < 8 or f % 8 or abs(f - PAPER_FILTERS * width) > 1e-9:
        raise ValueError(f"need latent_dim >= 1 and 1024 * width a positive multiple of 8, got {latent_dim} and width {width}")
    c1, c2, c3 = f // 8, f // 4, f // 2
    encoder = nn.Sequential(
        _conv_same(3, c1, 2), *bn_relu(c1),  # 32x32
        _conv_same(c1, c2, 2), *bn_relu(c2),  # 16x16
        _conv_same(c2, c3, 2), *bn_relu(c3),  # 8x8
        _conv_same(c3, f, 2), *bn_relu(f),  # 4x4
        nn.Flatten(),
        nn.Linear(f * 4 * 4, 2 * latent_dim),  # the mu and log sigma^2 heads side by side
    )  # fmt: skip
    decoder = nn.Sequential(
        nn.Linear(latent_dim, 8 * 8 * f), nn.Unflatten(1, (f, 8, 8)), nn.ReLU(),
        _deconv_same_x2(f, c3), *bn_relu(c3),  # 16x16
        _deconv_same_x2(c3, c2), *bn_relu(c2),  # 32x32
        _deconv_same_x2(c2, c1), *bn_relu(c1),  # 64x64
        nn.ConvTranspose2d(c1, 3, 5, stride=1, padding=2),  # stride 1: 64x64, three channels
        nn.Sigmoid(),
    )  # fmt: skip
    return AutoEncoder(encoder, decoder, latent_dim, likelihood="gaussian", data_shape=CELEBA_SHAPE)
