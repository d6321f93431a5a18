"""The nonparametric VAE of Bodin et al. (2017): a low-dimensional space X that ties a wide Z together.

Bodin et al. (2017, "a nonparametric VAE", GP-LVM inspired; the book's chapter 8) keep the VAE of
Kingma & Welling with a Z as wide as one likes, and add a second encoder ``y -> x`` into a 2-D space X. Within
a mini-batch, each code is predicted from the *other* codes by kernel weights between their locations in X:

- its Eq. 4: ``E[z~_i] = W_i z_{not i}``, the GP mean ``k(x_i, X) k(X, X)^-1 z`` made a convex combination;
- its Eq. 6: ``W_ij = sigma^2 exp(-||x_i - x_j||^2 / (2 l^2))`` for ``i != j`` (``sigma``, ``l`` learned),
  each row normalised (:func:`kernel_weights`): ``sigma^2`` cancels and never moves; ``l`` only sets X's unit;
- its Eq. 5: ``L~_s = L_g - sum_i (E[z_i] - E[z~_i])^2``, the VAE bound minus the squared distance between
  the encoder's mean and the mean predicted from X (:class:`NonparametricVAE`).

Generation from X (:class:`XSpace`): a new location's code is the kernel-weighted combination of reference
digits' codes, decoded; interpolation is along a line in X, as :func:`wisetut.generate.interpolate` is in Z.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from wisetut.generate import decode_mean
from wisetut.methods.nonparametric import NonparametricVAE, _check_points, kernel_weights
from wisetut.models.base import AutoEncoder

__all__ = ["XSpace", "distance_to_nearest", "interpolation_scores"]


@dataclass
class XSpace:
    """Generation from X: reference locations and codes, and what a new location decodes to.

    ``x_ref`` are the locations and ``z_ref`` the encoder means ``E[z]`` of the reference digits
    (by default, every training digit). A location ``x`` gets the code
    ``z~(x) = sum_j w_j(x) z_ref_j`` with ``w(x)`` the weights of Eq. 6 over ``x_ref``: the same
    convex combination the objective trained the codes to agree with (Eq. 4).
    """

    model: AutoEncoder
    method: NonparametricVAE
    x_ref: Tensor
    z_ref: Tensor

    @classmethod
    @torch.no_grad()
    def build(cls, model: AutoEncoder, method: NonparametricVAE, y_ref: Tensor, batch_size: int = 1024) -> XSpace:
        """Locate and encode the reference digits ``y_ref`` (evaluation mode)."""
        from wisetut.latent import encode_all

        if len(y_ref) < 1:
            raise ValueError("XSpace needs at least one reference digit")
        return cls(model, method, method.locate(y_ref, batch_size), encode_all(model, y_ref, batch_size)[0])

    @torch.no_grad()
    def codes(self, x: Tensor, batch_size: int = 1024) -> Tensor:
        """``z~(x)`` ``[N, latent]`` for locations ``x`` ``[N, x_dim]`` (on the CPU)."""
        _check_points(x, "x")
        m = self.method
        log_sigma, log_lengthscale = m.log_sigma.detach().cpu(), m.log_lengthscale.detach().cpu()
        return torch.cat([
            kernel_weights(x[s : s + batch_size].float(), log_sigma, log_lengthscale, self.x_ref) @ self.z_ref
            for s in range(0, len(x), batch_size)
        ])  # fmt: skip

    def decode(self, x: Tensor) -> Tensor:
        """Mean images generated at locations ``x``."""
        return decode_mean(self.model, self.codes(x))

    def interpolate(self, y_a: Tensor, y_b: Tensor, steps: int = 8) -> Tensor:
        """Decoded codes along the straight lines in X from ``locate(y_a)`` to ``locate(y_b)``.

        The X counterpart of :func:`wisetut.generate.interpolate` (which walks in Z): ``y_a`` and
        ``y_b`` are batches of ``P`` digits; returns ``[P, steps, *data_shape]``, both ends included.
        """
        if y_a.shape != y_b.shape:
            raise ValueError(f"y_a and y_b must have the same shape, got {tuple(y_a.shape)} and {tuple(y_b.shape)}")
        if steps < 2:
            raise ValueError(f"steps must be at least 2, got {steps}")
        x_a, x_b = self.method.locate(y_a), self.method.locate(y_b)
        t = torch.linspace(0.0, 1.0, steps).view(1, steps, 1)
        x = (1 - t) * x_a[:, None] + t * x_b[:, None]  # [P, steps, x_dim]
        return self.decode(x.reshape(-1, x_a.shape[1])).view(len(y_a), steps, *self.model.data_shape)


@torch.no_grad()
def distance_to_nearest(images: Tensor, real: Tensor, batch_size: int = 256) -> Tensor:
    """Euclidean pixel distance from each image to its nearest image in ``real`` ``[N]``.

    A number for "credible intermediate states": an interpolant that looks like some real digit is
    close to one. (It favours anything built from averages of real digits' codes, so read it beside
    a classifier's confidence.)
    """
    if images.dim() < 2 or real.dim() < 2 or images.shape[1:] != real.shape[1:]:
        raise ValueError(f"images and real must be batches of one shape, got {tuple(images.shape)} and {tuple(real.shape)}")
    flat_real = real.flatten(1).double()
    real_sq = flat_real.square().sum(1)
    out = []
    for s in range(0, len(images), batch_size):
        a = images[s : s + batch_size].flatten(1).double()
        d2 = a.square().sum(1, keepdim=True) + real_sq[None] - 2.0 * a @ flat_real.T  # float64: no cancellation trouble
        out.append(d2.min(1).values.clamp_min(0.0).sqrt())
    return torch.cat(out).float()


@torch.no_grad()
def interpolation_scores(paths: Tensor, classifier, real: Tensor) -> tuple[float, float]:
    """How credible the intermediate states of interpolation paths are (chapter 8's Fig. 4 in numbers).

    ``paths`` are ``[P, steps, *image_shape]`` with both ends included (as :meth:`XSpace.interpolate`
    and :func:`wisetut.generate.interpolate` return them); only the ``steps - 2`` interior points of
    each path are scored. Returns the classifier's mean top-class probability on them (anything with
    a ``predict_proba`` returning ``[N, classes]``, such as
    :class:`wisetut.models.classifier.DigitClassifier`) and their mean :func:`distance_to_nearest` image
    of ``real``.
    """
    if paths.dim() < 3 or paths.shape[1] < 3:
        raise ValueError(f"paths must be [P, steps >= 3, *image_shape], got {tuple(paths.shape)}")
    inner = paths[:, 1:-1].reshape(-1, *paths.shape[2:])
    confidence = classifier.predict_proba(inner).max(1).values.mean().item()
    return confidence, distance_to_nearest(inner, real).mean().item()
