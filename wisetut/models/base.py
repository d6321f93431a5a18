"""One interface for every model: a Gaussian encoder and a decoder with a likelihood.

``encode(x) -> (mu, logvar)`` gives ``q(z|x) = N(mu, diag(exp(logvar)))``; ``decode(z)`` gives
the decoder's output (a mean for the Gaussian likelihood, logits for the Bernoulli one);
``recon_error(x, out)`` is the per-sample negative log-likelihood ``-log p(x|z)`` up to a
constant, summed over data dimensions: the reconstruction term of Eq. 17, 26 and 27.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["AutoEncoder", "LIKELIHOODS", "eval_mode"]

LIKELIHOODS = ("gaussian", "bernoulli")


@contextmanager
def eval_mode(*modules: nn.Module):
    """Evaluation mode (no dropout, batch-norm running statistics) for ``modules`` within the block.

    Each module's own mode is restored afterwards, also when the block raises.
    """
    modes = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(modules, modes):
            m.train(mode)


class AutoEncoder(nn.Module):
    """A Gaussian encoder, a decoder and the decoder's likelihood.

    Args:
        encoder: maps ``x`` to a ``[M, 2 * latent_dim]`` tensor, split into ``mu`` and ``logvar``.
        decoder: maps ``z`` ``[M, latent_dim]`` to an output of ``x``'s shape.
        latent_dim: size of ``z``.
        likelihood: ``"gaussian"``: ``-log p(x|z) = ||x - out||^2`` (a Gaussian of variance 1/2,
            constants dropped); ``"bernoulli"``: binary cross-entropy with logits ``out``.
        data_shape: the shape of one sample, checked on every call.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent_dim: int, likelihood: str, data_shape):
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        self.encoder, self.decoder = encoder, decoder
        self.latent_dim, self.likelihood = latent_dim, likelihood
        self.data_shape = tuple(data_shape)
        # A method may fix the posterior variance (WAE's deterministic encoder): see Method.configure_model
        self.fixed_logvar: float | None = None

    def check_shape(self, x: Tensor) -> None:
        """Raise a ``ValueError`` unless ``x`` is a batch ``[batch, *data_shape]`` (every call checks it)."""
        if x.dim() != len(self.data_shape) + 1 or tuple(x.shape[1:]) != self.data_shape:
            raise ValueError(f"expected a batch of shape [batch, {', '.join(map(str, self.data_shape))}], got {tuple(x.shape)}")

    def check_data(self, x: Tensor, name: str = "x") -> None:
        """Raise a ``ValueError`` unless ``x`` is a data set this model can be trained on.

        Its shape (:meth:`check_shape`) and, for the Bernoulli decoder, float values in [0, 1]: the
        likelihood of intensities outside it is not a probability (images in 0..255 as floats would
        give a positive "ELBO"). uint8 images are scaled to [0, 1] batch by batch, so they pass.
        """
        self.check_shape(x)
        if self.likelihood == "bernoulli" and x.is_floating_point() and len(x):
            lo, hi = (v.item() for v in torch.aminmax(x))
            if lo < 0.0 or hi > 1.0:
                hint = " (images in 0..255? divide them by 255, or pass them as uint8)" if hi > 1.0 else ""
                raise ValueError(f"{name} must lie in [0, 1] for a Bernoulli decoder, found values in [{lo:.4g}, {hi:.4g}]{hint}")

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu, logvar)``, each ``[M, latent_dim]``."""
        self.check_shape(x)
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        if self.fixed_logvar is not None:  # a (near-)deterministic encoder: the logvar head is unused
            logvar = torch.full_like(mu, self.fixed_logvar)
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        """Decoder output for ``z``: a mean (Gaussian) or logits (Bernoulli), shaped like ``x``."""
        return self.decoder(z).view(z.shape[0], *self.data_shape)

    def recon_error(self, x: Tensor, out: Tensor) -> Tensor:
        """``-log p(x|z)`` up to a constant, per sample ``[M]``, summed over data dimensions."""
        if self.likelihood == "gaussian":
            return (x - out).square().flatten(1).sum(1)
        return F.binary_cross_entropy_with_logits(out, x, reduction="none").flatten(1).sum(1)

    def mean_output(self, out: Tensor) -> Tensor:
        """The decoder's mean in data space (``sigmoid`` of the logits for Bernoulli)."""
        return out if self.likelihood == "gaussian" else torch.sigmoid(out)

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Reconstruction with ``z = mu`` (no sampling), in data space."""
        mu, _ = self.encode(x)
        return self.mean_output(self.decode(mu))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.encode(x)
