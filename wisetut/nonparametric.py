"""The nonparametric VAE of Bodin et al. (2017): a low-dimensional space X that ties a wide Z together.

The workshop paper of Bodin et al. (2017, "a nonparametric VAE", GP-LVM inspired; the book's chapter 8) keeps
the VAE of Kingma & Welling for reconstruction, with a Z as wide as one likes, and adds a second
encoder ``y -> x`` into a 2-D space X. Within a mini-batch, each code is predicted from the *other*
codes by kernel weights between their locations in X:

- its Eq. 4: ``E[z~_i] = W_i z_{not i}``, the GP predictive mean ``k(x_i, X) k(X, X)^-1 z`` replaced by a
  convex combination (``W_ij >= 0``, ``sum_j W_ij = 1``);
- its Eq. 6: ``W_ij = sigma^2 exp(-||x_i - x_j||^2 / (2 l^2))`` for ``i != j``, with ``sigma`` and ``l``
  learned, the diagonal removed and each row normalised (:func:`kernel_weights`);
- its Eq. 5: ``L~_s = L_g - sum_i (E[z_i] - E[z~_i])^2``, the VAE bound minus the squared distance
  between the encoder's mean and the mean predicted from X (:class:`NonparametricVAE`).

Two facts the paper leaves implicit, both visible in the code: after the row normalisation the
scale ``sigma^2`` cancels, so Eq. 5 does not depend on it (its gradient is zero and it never moves
from its initial value); and ``l`` only sets the unit of X, which the second encoder can rescale.

Generation from X (:class:`XSpace`): a new location's code is the kernel-weighted combination of
the codes of reference digits (the training digits, or a stated subset), decoded; interpolation in
X decodes the codes along a straight line between two locations (as :func:`wisetut.generate.interpolate`
does in Z).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from wisetut import distributed
from wisetut.generate import decode_mean
from wisetut.methods import Forward, Method
from wisetut.models.base import AutoEncoder, eval_mode
from wisetut.models.mlp import BODIN_DROPOUT, mlp
from wisetut.objectives import aevb_kl

__all__ = ["kernel_weights", "NonparametricVAE", "XSpace", "distance_to_nearest", "interpolation_scores"]


def _check_points(x: Tensor, name: str) -> None:
    if not isinstance(x, Tensor) or x.dim() != 2 or not x.is_floating_point():
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a float tensor of locations [N, x_dim], got {shape}")


def kernel_weights(
    x: Tensor, log_sigma: Tensor | float, log_lengthscale: Tensor | float, reference: Tensor | None = None
) -> Tensor:
    """Bodin et al.'s Eq. 6: squared-exponential weights, diagonal removed, rows normalised.

    ``W_ij = sigma^2 exp(-||x_i - x_j||^2 / (2 l^2))``, then ``W_ii = 0`` and each row divided by its
    sum, so that ``W z`` is a convex combination of the *other* codes (its Eq. 4). Computed as a
    softmax over ``log W_ij`` (with ``-inf`` on the diagonal): the same numbers, but a row never
    becomes ``0 / 0`` when every ``exp`` underflows.

    Args:
        x: locations ``[N, x_dim]``.
        log_sigma, log_lengthscale: ``log sigma`` and ``log l`` (scalars or 0-d tensors).
        reference: optional locations ``[R, x_dim]``. If given, the weights of each row of ``x``
            over the reference points ``[N, R]`` (no diagonal to remove: generation from X).

    Returns:
        ``[N, N]`` (or ``[N, R]``): non-negative, rows summing to one, zero diagonal without ``reference``.

    Raises:
        ValueError: for locations not shaped ``[N, x_dim]``, mismatched ``x_dim``, fewer than two
            points without ``reference``, or a non-finite ``log_sigma`` or length scale.
    """
    _check_points(x, "x")
    log_sigma = torch.as_tensor(log_sigma, dtype=x.dtype, device=x.device)
    log_l = torch.as_tensor(log_lengthscale, dtype=x.dtype, device=x.device)
    if log_l.dim() != 0 or log_sigma.dim() != 0 or not (torch.isfinite(log_l) and torch.isfinite(log_sigma)):
        raise ValueError(f"log_sigma and log_lengthscale must be finite scalars, got {log_sigma} and {log_l}")
    if reference is None:
        if len(x) < 2:
            raise ValueError(f"kernel_weights needs at least 2 locations to leave each one out, got {len(x)}")
        other = x
    else:
        _check_points(reference, "reference")
        if reference.shape[1] != x.shape[1] or len(reference) < 1:
            raise ValueError(f"reference must be [R >= 1, {x.shape[1]}], got {tuple(reference.shape)}")
        other = reference
    dist2 = (x[:, None, :] - other[None, :, :]).square().sum(-1)  # exact, unlike cdist's matmul form
    log_w = 2.0 * log_sigma - dist2 / (2.0 * torch.exp(2.0 * log_l))
    if reference is None:
        log_w = log_w.masked_fill(torch.eye(len(x), dtype=torch.bool, device=x.device), float("-inf"))
    return torch.softmax(log_w, dim=1)


class NonparametricVAE(Method):
    """Bodin et al.'s objective (its Eq. 5) over the engine: the VAE bound minus a moment match.

    Per batch of ``M`` digits, the loss to minimise is (the negative of Eq. 5, divided by ``M``)::

        1/M sum_i [ rec_i + KL(q(z|y_i) || N(0, I)) + match_weight * ||mu_i - sum_j W_ij mu_j||^2 ]

    with ``mu_i = E[z_i]`` the VAE encoder's mean, ``W`` the weights of Eq. 6 between the locations
    ``x_i = locator(y_i)`` and ``sum_j W_ij mu_j = E[z~_i]`` (Eq. 4). The kernel acts on the
    encoder's means, not on samples, because Eq. 5 matches first moments. ``match_weight = 1`` is
    Eq. 5 as written.

    The method holds the second encoder (``locator``, an MLP like the VAE's encoder with a
    ``x_dim``-D output) and the kernel's ``log_sigma``, ``log_lengthscale``: the parameter group
    ``"locator"``. Eq. 5 is one objective of all parameters, so both groups minimise the same loss
    (``{"model": loss, "locator": loss}``): the engine backpropagates it once into each group
    (the graph is kept between groups) and steps both Adams together, which is exactly one Adam
    step on the joint objective. Keeping the group separate lets the engine checkpoint its
    optimiser and lets a reader see which weights belong to X.

    The engine puts the method in training mode during training (the locator's dropout is on) and
    :meth:`locate` / :meth:`held_out_metrics` switch it to evaluation mode while they run.
    """

    name = "npvae"

    NOT_HPARAMS = ("data_dim",)  # the data's size, fingerprinted with the data

    def __init__(
        self,
        data_dim: int = 784,
        x_dim: int = 2,
        hidden: tuple[int, ...] = (500, 500),
        dropout: float = BODIN_DROPOUT,
        match_weight: float = 1.0,
    ):
        super().__init__()
        if x_dim < 1 or data_dim < 1:
            raise ValueError(f"data_dim and x_dim must be positive, got {data_dim} and {x_dim}")
        if not match_weight >= 0:
            raise ValueError(f"match_weight must be non-negative, got {match_weight}")
        self.data_dim, self.x_dim = int(data_dim), int(x_dim)
        self.hidden, self.dropout, self.match_weight = tuple(int(h) for h in hidden), float(dropout), float(match_weight)
        self.locator = nn.Sequential(nn.Flatten(), mlp(self.data_dim, self.x_dim, self.hidden, self.dropout))
        self.log_sigma = nn.Parameter(torch.zeros(()))
        self.log_lengthscale = nn.Parameter(torch.zeros(()))

    def reset_parameters(self) -> None:
        """Draw the locator's weights afresh from the global RNG and reset the kernel to sigma = l = 1.

        :func:`wisetut.experiments.train_methods` calls this right after it builds a seed's model,
        so that each seed's X encoder starts from its own draw (a seed sets every initial weight).
        """
        for layer in self.locator.modules():
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()
        with torch.no_grad():
            self.log_sigma.zero_()
            self.log_lengthscale.zero_()

    def parameter_groups(self, model: AutoEncoder) -> dict[str, list[nn.Parameter]]:
        return {"model": list(model.parameters()), "locator": list(self.parameters())}

    def _x(self, y: Tensor) -> Tensor:
        if y.dim() < 2 or y[0].numel() != self.data_dim:
            raise ValueError(f"expected a batch of digits with {self.data_dim} values each, got {tuple(y.shape)}")
        return self.locator(y)

    def weights(self, x: Tensor) -> Tensor:
        """Eq. 6 between the locations ``x`` of one batch (``[M, M]``, zero diagonal, rows sum to 1)."""
        return kernel_weights(x, self.log_sigma, self.log_lengthscale)

    def match(self, y: Tensor, mu: Tensor) -> Tensor:
        """Per-sample ``||E[z_i] - E[z~_i]||^2`` ``[M]`` for a batch of digits ``y`` and their means ``mu``."""
        # Eq. 4: convex combinations of the other codes of the (global) batch; this process's rows
        x_all, mu_all = distributed.coupled(self._x(y)), distributed.coupled(mu)
        z_tilde = distributed.own(self.weights(x_all)) @ mu_all
        return (mu - z_tilde).square().sum(1)

    def losses(self, f: Forward) -> dict[str, Tensor]:
        loss = (f.recon + aevb_kl(f.mu, f.logvar) + self.match_weight * self.match(f.x, f.mu)).mean()
        return {"model": loss, "locator": loss}

    @torch.no_grad()
    def locate(self, y: Tensor, batch_size: int = 1024) -> Tensor:
        """Locations ``x`` ``[N, x_dim]`` of digits ``y`` (evaluation mode: no dropout), on the CPU."""
        device = self.log_sigma.device
        with eval_mode(self):
            out = torch.cat([self._x(y[s : s + batch_size].to(device)) for s in range(0, len(y), batch_size)])
        return out.float().cpu()

    @torch.no_grad()
    def held_out_metrics(self, model: AutoEncoder, y: Tensor, batch_size: int) -> dict[str, float]:
        """``match``: the mean of ``||E[z_i] - E[z~_i]||^2`` over held-out digits, in batches as in training.

        Deterministic (no dropout, no sampling), so it leaves every random number generator alone.
        Batches smaller than two digits are skipped.
        """
        device = self.log_sigma.device
        total, n = 0.0, 0
        with eval_mode(self, model):
            for s in range(0, len(y), batch_size):
                yb = y[s : s + batch_size].to(device)
                if len(yb) < 2:
                    continue
                mu, _ = model.encode(yb)
                total += self.match(yb, mu.float()).sum().item()
                n += len(yb)
        return {"match": total / max(n, 1)}


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
