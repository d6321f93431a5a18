"""The convolutional networks of the disentanglement literature, for the teapots of chapter 9.

The networks that beta-VAE's successors use to compare disentanglement on 64x64 images (Burgess et
al., 2018; Locatello et al., 2019, ``disentanglement_lib``'s ``conv_encoder`` / ``deconv_decoder``),
so that beta-VAE runs on the networks it is usually judged on, and every method shares them:

- Encoder: 4x4 convolutions with stride 2 and 32, 32, 64, 64 filters (64 -> 32 -> 16 -> 8 -> 4), ReLU,
  a linear layer of 256 ReLU units, and a linear layer to ``mu`` and ``log sigma^2``.
- Decoder: the mirror image: linear layers to 256 units and to a 4x4x64 map (ReLU), 4x4 transposed
  convolutions with stride 2 to 64, 32, 32 filters (ReLU) and to 3 channels: logits of a Bernoulli
  likelihood over the pixel values in [0, 1], as ``disentanglement_lib`` has it.

For 32x32 images the first convolution (and the last transposed one) is left out: 32 -> 16 -> 8 -> 4.
No batch norm, as in the original. The paper's WiSE-ALE gives no teapot networks at all.
"""

from __future__ import annotations

from torch import nn

from wisetut.models.base import AutoEncoder

__all__ = ["teapots_autoencoder", "FILTERS"]

FILTERS = (32, 32, 64, 64)  # disentanglement_lib's conv_encoder, first layer first


def teapots_autoencoder(latent_dim: int = 10, size: int = 64, hidden: int = 256) -> AutoEncoder:
    """The encoder and decoder above for ``[batch, 3, size, size]`` images, ``size`` 64 or 32."""
    if size not in (32, 64) or latent_dim < 1 or hidden < 1:
        raise ValueError(f"need size 32 or 64, latent_dim >= 1 and hidden >= 1, got {size}, {latent_dim}, {hidden}")
    filters = FILTERS if size == 64 else FILTERS[1:]
    chans = (3, *filters)
    enc = [m for a, b in zip(chans, chans[1:]) for m in (nn.Conv2d(a, b, 4, stride=2, padding=1), nn.ReLU())]
    encoder = nn.Sequential(*enc, nn.Flatten(), nn.Linear(filters[-1] * 16, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent_dim))
    back = chans[::-1]  # 64, 64, 32, 32, 3 for 64x64
    dec = [m for a, b in zip(back[:-1], back[1:-1]) for m in (nn.ConvTranspose2d(a, b, 4, stride=2, padding=1), nn.ReLU())]
    decoder = nn.Sequential(
        nn.Linear(latent_dim, hidden), nn.ReLU(),
        nn.Linear(hidden, filters[-1] * 16), nn.ReLU(), nn.Unflatten(1, (filters[-1], 4, 4)),
        *dec, nn.ConvTranspose2d(back[-2], 3, 4, stride=2, padding=1),  # logits
    )  # fmt: skip
    return AutoEncoder(encoder, decoder, latent_dim, likelihood="bernoulli", data_shape=(3, size, size))
