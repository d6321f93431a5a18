"""WiSE-ALE (Eq. 27): one upper bound of the aggregate posterior's KL (Eq. 21) for the whole batch."""

from __future__ import annotations

from torch import Tensor

from wisetut import distributed
from wisetut.methods.base import Forward, Method, check_logvar_floor, floored_logvar
from wisetut.objectives import wise_kl

__all__ = ["WiSE"]


class WiSE(Method):
    """WiSE-ALE, Eq. 27: summed reconstruction minus one ``KL_approx^UB`` (Eq. 21) per batch.

    ``kl_weight`` is the weight of that one KL; Eq. 27 as written has ``kl_weight = 1``. Per
    sample (the loss divided by ``M``), the prior then weighs ``kl_weight / M``.
    """

    name = "wise"

    HPARAMS_IF_SET = ("logvar_floor",)

    def __init__(self, kl_weight: float = 1.0, logvar_floor: float | None = None):
        super().__init__()
        if not kl_weight >= 0:
            raise ValueError(f"kl_weight must be non-negative, got {kl_weight}")
        self.kl_weight = float(kl_weight)
        self.logvar_floor = check_logvar_floor(
            logvar_floor
        )  # in hparams() only when set, so runs without it keep their checkpoints

    def losses(self, f: Forward) -> dict[str, Tensor]:
        """``logvar_floor`` (off by default) floors the log-variances *in the KL term only*.

        In float32, ``exp(logvar)`` underflows to 0 below about -103 and Eq. 21's self-overlap is
        then ``0 / 0``. Eq. 27 pulls so weakly on a lone posterior (``1/M^2`` per sample) that a few
        posteriors can shrink that far (chapter 4's sine waves do, in the fourth epoch). A floor of
        -30 (sigma = 3e-7, below float32's resolution of a mean of order 1) stops that and changes
        nothing for posteriors above it.
        """
        logvar = floored_logvar(f.logvar, self.logvar_floor)
        # Eq. 21 over the whole (global) batch of M; this process's reconstruction sum stands for
        # M/m times its share, so the mean of the processes' losses is Eq. 27's (M = m in one process)
        mu, logvar = distributed.coupled(f.mu), distributed.coupled(logvar)
        m = mu.shape[0]
        return {"model": (f.recon.sum() * (m / f.x.shape[0]) + self.kl_weight * wise_kl(mu, logvar)) / m}
