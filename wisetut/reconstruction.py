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

from wisetut.checks import check_count
from wisetut.estimators import mc_aggregate_kl_reparam, mc_aggregate_kl_stratified
from wisetut.methods import Forward, Method, check_logvar_floor, floored_logvar
from wisetut.models.base import LIKELIHOODS, AutoEncoder, eval_mode
from wisetut.objectives import wise_kl, wise_kl_metric

__all__ = [
    "reconstruct_all",
    "pairwise_log_likelihood",
    "eq15_term",
    "eq16_term",
    "eq17_term",
    "TERMS",
    "KL_PENALTIES",
    "WiSEVariant",
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


class WiSEVariant(Method):
    """WiSE-ALE (Eq. 27) with a choice of reconstruction term and of KL penalty: the paper's future work.

    Loss per sample: ``-(term(L) - kl_weight * KL) / M`` where

    - ``term``: ``"eq15"``, ``"eq16"`` or ``"eq17"`` (:data:`TERMS`; ``"eq17"`` is Eq. 27's);
    - ``kl``: ``"eq21"``, the closed-form upper bound of Eq. 21 (:func:`wisetut.wise_kl`, Eq. 27's),
      or ``"mc"``, the true aggregate KL by reparameterised Monte Carlo
      (:func:`wisetut.estimators.mc_aggregate_kl_reparam`, ``mc_samples`` draws per posterior).

    ``WiSEVariant("eq17", "eq21")`` is :class:`wisetut.methods.WiSE` up to the constant ``M log M``.
    ``logvar_floor`` is :class:`~wisetut.methods.WiSE`'s float32 guard: it floors the log-variances in
    the penalty only (off by default; chapter 11 sets it on every variant).

    Every epoch, :meth:`held_out_metrics` measures the two approximations on held-out batches:
    the three reconstruction terms per sample (``eq15``, ``eq16``, ``eq17``) and the gap of Eq. 21
    above the true aggregate KL (``kl_bound``, ``kl_true`` by stratified Monte Carlo, ``kl_gap``).
    """

    name = "wise_variant"
    splits_batches = False  # Eq. 15 and 16 pair every code with every input: not written for several processes

    NOT_HPARAMS = ("gap_batches",)  # how many batches the approximation errors are measured on
    HPARAMS_IF_SET = ("logvar_floor",)  # in hparams() only when set, so runs without it keep their checkpoints

    def __init__(
        self,
        term: str = "eq17",
        kl: str = "eq21",
        kl_weight: float = 1.0,
        mc_samples: int = 16,
        gap_batches: int = 8,
        logvar_floor: float | None = None,
    ):
        super().__init__()
        if term not in TERMS:
            raise ValueError(f"term must be one of {', '.join(TERMS)}, got {term!r}")
        if kl not in KL_PENALTIES:
            raise ValueError(f"kl must be one of {', '.join(KL_PENALTIES)}, got {kl!r}")
        if not kl_weight >= 0 or mc_samples < 1 or gap_batches < 0:
            raise ValueError(
                f"need kl_weight >= 0, mc_samples >= 1, gap_batches >= 0, got {kl_weight}, {mc_samples}, {gap_batches}"
            )
        self.term, self.kl, self.kl_weight = term, kl, float(kl_weight)
        self.mc_samples, self.gap_batches = int(mc_samples), int(gap_batches)
        self.logvar_floor = check_logvar_floor(logvar_floor)
        self.likelihood: str | None = None

    def configure_model(self, model: AutoEncoder) -> None:
        super().configure_model(model)
        self.likelihood = model.likelihood

    def _penalty(self, mu: Tensor, logvar: Tensor) -> Tensor:
        if self.kl == "eq21":
            return wise_kl(mu, logvar)
        eps = torch.randn(mu.shape[0], self.mc_samples, mu.shape[1], dtype=mu.dtype, device=mu.device)
        return mc_aggregate_kl_reparam(mu, logvar, eps)

    def losses(self, f: Forward) -> dict[str, Tensor]:
        if self.likelihood is None:
            raise RuntimeError("configure_model(model) sets the likelihood (train() calls it)")
        ll = pairwise_log_likelihood(f.x.float(), f.out.float(), self.likelihood)
        m = f.x.shape[0]
        return {
            "model": -(TERMS[self.term](ll) - self.kl_weight * self._penalty(f.mu, floored_logvar(f.logvar, self.logvar_floor)))
            / m
        }

    @torch.no_grad()
    def held_out_metrics(self, model: AutoEncoder, x: Tensor, batch_size: int) -> dict[str, float]:
        """Per sample, averaged over the first ``gap_batches`` full held-out batches (own seeded generator)."""
        n = min(self.gap_batches, len(x) // batch_size)
        if n == 0:
            return {}
        device = next(model.parameters()).device
        gen = torch.Generator(device=device).manual_seed(12345)
        sums = dict.fromkeys(("eq15", "eq16", "eq17", "kl_bound", "kl_true"), 0.0)
        with eval_mode(model):
            for b in range(n):
                xb = x[b * batch_size : (b + 1) * batch_size].to(device)
                f = Forward.run(model, xb, generator=gen)
                ll = pairwise_log_likelihood(xb.float(), f.out.float(), model.likelihood)
                for name, term in TERMS.items():
                    sums[name] += term(ll).item() / batch_size
                sums["kl_bound"] += wise_kl_metric(f.mu, f.logvar).item()
                sums["kl_true"] += mc_aggregate_kl_stratified(f.mu.double(), f.logvar.double(), per_component=64, generator=gen)[
                    0
                ]
        out = {k: v / n for k, v in sums.items()}
        out["kl_gap"] = out["kl_bound"] - out["kl_true"]
        return out
