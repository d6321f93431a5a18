"""Encoder/decoder pairs of Appendix D, behind one small interface (:class:`AutoEncoder`)."""

from wisetut.models.base import AutoEncoder, eval_mode
from wisetut.models.mlp import mlp_autoencoder
from wisetut.models.mnist import mnist_autoencoder
from wisetut.models.sine import sine_autoencoder

__all__ = ["AutoEncoder", "eval_mode", "sine_autoencoder", "mnist_autoencoder", "mlp_autoencoder"]
