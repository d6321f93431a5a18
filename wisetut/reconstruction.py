"""The reconstruction terms of Eq. 15, 16 and 17 for a mini-batch, and the objective they make.

Section 3.3.1 rewrites the reconstruction term of the aggregate posterior's bound (Eq. 12) for a
set of ``M`` inputs (the paper's ``N``; here a mini-batch). With ``z_i ~ q(z|x_i)`` and the matrix
``L[i, j] = log p(x_j | z_i)`` (:func:`pairwise_log_likelihood`: ``M`` decodes, then every input
scored under every decoded ``z_i``, ``M^2 D`` arithmetic):

- Eq. 15 (exact, a lower-bound term): ``sum_i 1/M sum_j L[i, j]``, every ``z_i`` must explain
  *every* input;
- Eq. 16 (Jensen, an upper bound of Eq. 15): ``sum_i log(1/M sum_j exp L[i, j])``;
- Eq. 17 (the paper's choice): ``sum_i L[i, i] - M log M``, only the own input, as AEVB.

Each is a one-sample Monte Carlo estimate of its expectation over ``q(z|x_i)``. Log-likelihoods are those of
:meth:`AutoEncoder.recon_error` (constants dropped: every entry of ``L`` shifts alike, no comparison changes).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from wisetut.checks import check_count
from wisetut.models.base import LIKELIHOODS, AutoEncoder, eval_mode

__all__ = [
    "reconstruct_all",
    "pairwise_log_likelihood",
    "eq15_term",
    "eq16_term",
    "eq17_term",
    "TERMS",
    "KL_PENALTIES",
]


def reconstruct_all(model: AutoEncoder, x: Tensor, batch_size: int = 1024) -> Tensor:
    """Every input's reconstruction at ``z = mu``, in batches, as a CPU tensor shaped like ``x``.

    What a chapter measures per input (chapter 4: error, relative error and amplitude by frequency
    and amplitude): the model runs on its own device, in evaluation mode, without gradients.
    """
    device = next(model.parameters()).device
    out = []
    with eval_mode(model), torch.no_grad():
        for s in range(0, len(x), batch_size):
            out.append(model.reconstruct(x[s : s + batch_size].to(device)).cpu())
    return torch.cat(out)


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
    if x.device != out.device:
        raise ValueError(f"x and out must be on one device, got {x.device} and {out.device}")
    check_count("chunk", chunk, 1)
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


KL_PENALTIES = ("eq21", "mc")
