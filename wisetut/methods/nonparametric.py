"""The nonparametric VAE of Bodin et al. (2017) as a training objective: a second encoder into a 2-D space X (chapter 8).

Its Eq. 4-6 (:func:`kernel_weights`, :class:`NonparametricVAE`); generation from X is :class:`wisetut.nonparametric.XSpace`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from wisetut import distributed
from wisetut.methods.base import Forward, Method
from wisetut.models.base import AutoEncoder, eval_mode
from wisetut.models.mlp import BODIN_DROPOUT, mlp
from wisetut.objectives import aevb_kl

__all__ = ["kernel_weights", "NonparametricVAE"]


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
