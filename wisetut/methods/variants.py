"""WiSE-ALE with the reconstruction term of Eq. 15, 16 or 17, and the bound or the true KL: the paper's future work."""

from __future__ import annotations

import torch
from torch import Tensor

from wisetut.estimators import mc_aggregate_kl_reparam, mc_aggregate_kl_stratified
from wisetut.methods.base import Forward, Method, check_logvar_floor, floored_logvar
from wisetut.models.base import AutoEncoder, eval_mode
from wisetut.objectives import wise_kl, wise_kl_metric
from wisetut.reconstruction import KL_PENALTIES, TERMS, pairwise_log_likelihood

__all__ = ["WiSEVariant"]


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
