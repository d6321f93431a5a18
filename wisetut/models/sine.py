"""The sine-wave encoder and decoder of Appendix D.1 (latent size 4).

Encoder, as printed: five stride-2 1-D convolutions (16, 16, 32, 32 filters of width 16, then 64 of width 8),
``SAME`` padding, ReLU, FC64, FC4 (mu). We add a second FC4 head for ``log sigma^2`` (the paper prints only
the mean head) and a ReLU after FC64 (two linear layers in a row would collapse into one).

Decoder, as printed, does not add up: FC16, a 1x1 convolution to 128 channels, then *five* stride-4 transposed
convolutions take length 1 to 4^5 = 1024, not 256, and end in 16 channels and a ReLU, which cannot produce the
negative half of a sine wave. Our nearest consistent design keeps the first four transposed convolutions as
printed (64, 32, 16, 16 filters of widths 8, 16, 16, 16, stride 4: lengths 1 -> 4 -> 16 -> 64 -> 256) and
replaces the fifth by a linear 1x1 convolution to one channel. Chapter 4 states this choice.

The layers are ``torch.nn``'s, computed faster on the CPU by :mod:`wisetut.models.layers` (same parameters,
same outputs to float rounding). Measured in ``benchmarks/train_speed.py``.
"""

from __future__ import annotations

from torch import nn

from wisetut.models.base import AutoEncoder
from wisetut.models.layers import PointwiseConv1d, SpaceToDepthConv1d, SubPixelConvTranspose1d

__all__ = ["sine_autoencoder", "SINE_LENGTH"]

SINE_LENGTH = 256


def _conv_same_stride2(c_in: int, c_out: int, width: int) -> nn.Conv1d:
    # TensorFlow's SAME with stride 2 halves the length: padding (width - 2) / 2. Width 8 (the
    # last layer, length 16 -> 8) is faster as torch's own strided convolution (measured)
    cls = SpaceToDepthConv1d if width > 8 else nn.Conv1d
    return cls(c_in, c_out, width, stride=2, padding=(width - 2) // 2)


def _tconv_same_stride4(c_in: int, c_out: int, width: int) -> nn.ConvTranspose1d:
    # SAME with stride 4 multiplies the length by 4: (L - 1) * 4 - 2p + width = 4L
    return SubPixelConvTranspose1d(c_in, c_out, width, stride=4, padding=(width - 4) // 2)


def sine_autoencoder(latent_dim: int = 4) -> AutoEncoder:
    """Appendix D.1's network for 256-sample sine waves, shaped ``[batch, 1, 256]``."""
    encoder = nn.Sequential(
        _conv_same_stride2(1, 16, 16), nn.ReLU(),
        _conv_same_stride2(16, 16, 16), nn.ReLU(),
        _conv_same_stride2(16, 32, 16), nn.ReLU(),
        _conv_same_stride2(32, 32, 16), nn.ReLU(),
        _conv_same_stride2(32, 64, 8), nn.ReLU(),  # [64, 8]
        nn.Flatten(),
        nn.Linear(64 * 8, 64), nn.ReLU(),
        nn.Linear(64, 2 * latent_dim),  # mu and logvar heads side by side
    )  # fmt: skip
    decoder = nn.Sequential(
        nn.Linear(latent_dim, 16), nn.ReLU(),
        nn.Unflatten(1, (16, 1)),  # Reshape 16 -> 1 x 16
        PointwiseConv1d(16, 128), nn.ReLU(),
        _tconv_same_stride4(128, 64, 8), nn.ReLU(),  # length 4
        _tconv_same_stride4(64, 32, 16), nn.ReLU(),  # 16
        _tconv_same_stride4(32, 16, 16), nn.ReLU(),  # 64
        _tconv_same_stride4(16, 16, 16), nn.ReLU(),  # 256
        PointwiseConv1d(16, 1),  # linear output: sine waves are negative half the time
    )  # fmt: skip
    return AutoEncoder(encoder, decoder, latent_dim, likelihood="gaussian", data_shape=(1, SINE_LENGTH))
