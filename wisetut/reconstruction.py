"""The reconstruction terms of Eq. 15, 16 and 17 for a mini-batch, and the objective they make.

Section 3.3.1 rewrites the reconstruction term of the aggregate posterior's bound (Eq. 12) for a
set of ``M`` inputs (the paper's ``N``; here a mini-batch). With ``z_i ~ q(z|x_i)`` and the matrix
``L[i, j] = log p(x_j | z_i)`` (:func:`pairwise_log_likelihood`: ``M`` decodes, then every input
scored under every decoded ``z_i``, ``M^2 D`` arithmetic):

- Eq. 15 (exact, a lower-bound term): ``sum_i 1/M sum_j L[i, j]``, every ``z_i`` must explain
  *every* input;
- Eq. 16 (Jensen, an upper bound of Eq. 15): ``sum_i log(1/M sum_j exp L[i, j])``;
- Eq. 17 (the paper's choice): ``sum_i L[i, i] - M log M``, only the own input, as AEVB.

Each is a one-sample Monte Carlo estimate of its expectation over ``q(z|x_i)``. Log-likelihoods are
those of :meth:`AutoEncoder.recon_error` (constants dropped, which shifts every entry of ``L`` by
the same amount and changes none of the comparisons).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from wisetut.estimators import log_aggregate_density
from wisetut.methods import Forward, Method
from wisetut.models.base import LIKELIHOODS, AutoEncoder
from wisetut.objectives import LOG_2PI, check_posterior, wise_kl

__all__ = ["pairwise_log_likelihood", "eq15_term", "eq16_term", "eq17_term", "TERMS", "WiSEReconstruction", "mc_aggregate_kl_reparam"]


def pairwise_log_likelihood(x: Tensor, out: Tensor, likelihood: str, chunk: int = 64) -> Tensor:
    """``L[i, j] = log p(x_j | z_i)`` up to a constant: ``[M, M]`` for inputs ``x`` and decoder outputs ``out``.

    ``out[i]`` is the decoder's output for ``z_i`` (a mean for ``"gaussian"``, logits for
    ``"bernoulli"``), shaped like ``x``. The diagonal equals ``-recon_error(x, out)``.

    Raises:
        ValueError: if ``x`` and ``out`` differ in shape, hold fewer than one sample, or the
            likelihood is unknown.
    """
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
    if x.shape != out.shape or x.dim() < 2 or x.shape[0] < 1:
        raise ValueError(f"x and out must both be [M, ...] of the same shape, got {tuple(x.shape)} and {tuple(out.shape)}")
    xf, of = x.flatten(1), out.flatten(1)
    if likelihood == "bernoulli":  # log p(x_j | o_i) = x_j . o_i - sum_d softplus(o_id): one matrix product
        return of @ xf.T - F.softplus(of).sum(1, keepdim=True)
    rows = [-(of[i : i + chunk, None, :] - xf[None]).square().sum(-1) for i in range(0, len(of), chunk)]
    return torch.cat(rows)  # [M, M], computed directly (no ||a||^2 + ||b||^2 - 2ab cancellation)


def _check_square(ll: Tensor) -> int:
    if ll.dim() != 2 or ll.shape[0] != ll.shape[1] or ll.shape[0] < 1:
        raise ValueError(f"expected a square [M, M] log-likelihood matrix, got {tuple(ll.shape)}")
    return ll.shape[0]


def eq15_term(ll: Tensor) -> Tensor:
    """Eq. 15: ``sum_i 1/M sum_j L[i, j]`` (the exact reconstruction term of the batch's bound)."""
    _check_square(ll)
    return ll.mean(1).sum()


def eq16_term(ll: Tensor) -> Tensor:
    """Eq. 16: ``sum_i log(1/M sum_j exp L[i, j])`` (Jensen: never below Eq. 15)."""
    m = _check_square(ll)
    return (torch.logsumexp(ll, dim=1) - math.log(m)).sum()


def eq17_term(ll: Tensor) -> Tensor:
    """Eq. 17: ``sum_i L[i, i] - M log M`` (drops the ``M - 1`` other inputs of Eq. 16)."""
    m = _check_square(ll)
    return ll.diagonal().sum() - m * math.log(m)


TERMS = {"eq15": eq15_term, "eq16": eq16_term, "eq17": eq17_term}


class WiSEReconstruction(Method):
    """WiSE-ALE's objective (Eq. 27) with the reconstruction term of Eq. 15, 16 or 17.

    Loss per sample: ``-(term(L) - kl_weight KL_UB(q(z|B) || p)) / M``. With ``term="eq17"`` this is
    :class:`wisetut.methods.WiSE` up to the constant ``M log M``.
    """

    name = "wise_recon"

    def __init__(self, term: str = "eq17", kl_weight: float = 1.0):
        super().__init__()
        if term not in TERMS:
            raise ValueError(f"term must be one of {', '.join(TERMS)}, got {term!r}")
        if not kl_weight >= 0:
            raise ValueError(f"kl_weight must be non-negative, got {kl_weight}")
        self.term, self.kl_weight = term, float(kl_weight)
        self.likelihood: str | None = None

    def configure_model(self, model: AutoEncoder) -> None:
        super().configure_model(model)
        self.likelihood = model.likelihood

    def losses(self, f: Forward) -> dict[str, Tensor]:
        if self.likelihood is None:
            raise RuntimeError("configure_model(model) sets the likelihood (train() calls it)")
        ll = pairwise_log_likelihood(f.x.float(), f.out.float(), self.likelihood)
        m = f.x.shape[0]
        return {"model": -(TERMS[self.term](ll) - self.kl_weight * wise_kl(f.mu, f.logvar)) / m}

    def hparams(self) -> dict:
        return {"term": self.term, "kl_weight": self.kl_weight}


def mc_aggregate_kl_reparam(mu: Tensor, logvar: Tensor, eps: Tensor) -> Tensor:
    """A differentiable Monte Carlo estimate of ``KL(q(z|B) || N(0, I))`` from fixed noise ``eps``.

    ``eps`` is ``[M, S, d]``: ``z_is = mu_i + sigma_i eps_is`` are ``S`` reparameterised draws from
    each component of the batch's aggregate posterior (Eq. 10), and the estimate is the mean of
    ``log q(z|B) - log p(z)`` over all of them: unbiased for the true KL that Eq. 21 only bounds, and
    differentiable in ``mu`` and ``logvar`` (for training with the true KL as the penalty).

    Raises:
        ValueError: for posteriors not ``[M, d]`` or ``eps`` not ``[M, S, d]``.
    """
    check_posterior(mu, logvar)
    if eps.dim() != 3 or eps.shape[0] != mu.shape[0] or eps.shape[2] != mu.shape[1]:
        raise ValueError(f"eps must be [{mu.shape[0]}, S, {mu.shape[1]}], got {tuple(eps.shape)}")
    d = mu.shape[1]
    z = (mu[:, None, :] + (0.5 * logvar).exp()[:, None, :] * eps).reshape(-1, d)
    log_p = -0.5 * (z.square() + LOG_2PI).sum(1)
    return (log_aggregate_density(z, mu, logvar) - log_p).mean()
