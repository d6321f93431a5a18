"""AEVB (Eq. 26; Kingma & Welling, 2014) and beta-VAE (Higgins et al., 2017): a KL on every posterior."""

from __future__ import annotations

from torch import Tensor

from wisetut.methods.base import Forward, Method, check_logvar_floor, floored_logvar
from wisetut.objectives import aevb_kl

__all__ = ["AEVB", "BetaVAE"]


class AEVB(Method):
    """The VAE of Kingma & Welling: a prior on every sample's posterior (Eq. 26).

    ``logvar_floor`` (off by default) floors the log-variances in the KL term only, as
    :class:`WiSE`'s does; chapter 10 sets it on every cell of its 2 x 2 design, so that the guard is
    not confounded with the form of the prior term.
    """

    name = "aevb"

    HPARAMS_IF_SET = ("logvar_floor",)  # in hparams() only when set, so runs without it keep their checkpoints

    def __init__(self, logvar_floor: float | None = None):
        super().__init__()
        self.logvar_floor = check_logvar_floor(logvar_floor)

    def kl(self, f: Forward) -> Tensor:
        """``KL(q(z|x_i) || p(z))`` per sample, in closed form (the KL term of Eq. 26)."""
        return aevb_kl(f.mu, floored_logvar(f.logvar, self.logvar_floor))

    def losses(self, f: Forward) -> dict[str, Tensor]:
        return {"model": (f.recon + self.kl(f)).mean()}


class BetaVAE(AEVB):
    """beta-VAE (Higgins et al., 2017): AEVB with the KL weighted by ``beta`` (> 1 there; chapter 10 also tries 1/M).

    The paper names beta-VAE but gives no beta. We default to ``beta = 4``, a value Higgins et al.
    use often, which is strong enough to show the over-smoothing of Fig. 1(e).
    """

    name = "beta_vae"

    def __init__(self, beta: float = 4.0, logvar_floor: float | None = None):
        super().__init__(logvar_floor)
        if not beta > 0:
            raise ValueError(f"beta must be positive, got {beta}")
        self.beta = float(beta)

    def losses(self, f: Forward) -> dict[str, Tensor]:
        return {"model": (f.recon + self.beta * self.kl(f)).mean()}
