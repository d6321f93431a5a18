"""The MNIST encoder and decoder of Appendix D.2 (latent size 2).

Decoder, as printed: FC16, ReLU, FC128, ReLU, FC784, sigmoid. We output the 784 logits and
apply the sigmoid inside the Bernoulli likelihood (numerically the same model, but stable).

Encoder: missing from the paper's text. We use the common reading, a small convolutional
encoder: two stride-2 4x4 convolutions (32, 64 filters; 28 -> 14 -> 7), ReLU, FC128, ReLU, and
two FC2 heads for ``mu`` and ``log sigma^2``. Chapter 5 states this choice.
"""

from __future__ import annotations

from torch import nn

from wisetut.models.base import AutoEncoder

__all__ = ["mnist_autoencoder"]


def mnist_autoencoder(latent_dim: int = 2) -> AutoEncoder:
    """Appendix D.2's network for ``[batch, 1, 28, 28]`` digits in [0, 1] (Bernoulli decoder)."""
    encoder = nn.Sequential(
        nn.Conv2d(1, 32, 4, stride=2, padding=1), nn.ReLU(),  # 14 x 14
        nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.ReLU(),  # 7 x 7
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
        nn.Linear(128, 2 * latent_dim),
    )  # fmt: skip
    decoder = nn.Sequential(
        nn.Linear(latent_dim, 16), nn.ReLU(),
        nn.Linear(16, 128), nn.ReLU(),
        nn.Linear(128, 784),  # logits; the sigmoid is in the Bernoulli likelihood
    )  # fmt: skip
    return AutoEncoder(encoder, decoder, latent_dim, likelihood="bernoulli", data_shape=(1, 28, 28))
