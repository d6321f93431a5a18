"""The methods the paper compares, as objectives over one training engine.

Each method turns one forward pass (:class:`Forward`) into one loss per parameter group; the engine
(:mod:`wisetut.engine`) keeps one optimiser per group, so WAE-GAN's adversary needs no second loop.
Losses are the negative objectives divided by the batch size ``M``:

- :class:`AEVB` (Eq. 26):  ``1/M sum_i [rec_i + KL(q(z|x_i) || p(z))]``; :class:`BetaVAE`: KL times ``beta``
- :class:`WiSE` (Eq. 27):  ``1/M [sum_i rec_i + w KL_UB(q(z|B_M) || p(z))]``, ``w = 1``: one KL per batch
- :class:`WAEMMD`:         ``1/M sum_i rec_i + lambda MMD_IMQ(z ~ q(z|x), z ~ p(z))``
- :class:`WAEGAN`:         ``1/M sum_i rec_i + lambda BCE(D(z ~ q(z|x)), 1)``; the adversary ``D``'s own group

``rec_i = -log p(x_i|z_i)`` up to a constant, with ``z_i ~ q(z|x_i)`` by the reparameterisation trick
(Appendix C). One file per method beside their base (:mod:`wisetut.methods.base`); two more:
:class:`NonparametricVAE` (Bodin et al., 2017) and :class:`WiSEVariant` (Eq. 15-17, chapter 11).
"""

from __future__ import annotations

from wisetut.methods.aevb import AEVB, BetaVAE
from wisetut.methods.base import Forward, Method, check_logvar_floor, floored_logvar
from wisetut.methods.nonparametric import NonparametricVAE, kernel_weights
from wisetut.methods.variants import WiSEVariant
from wisetut.methods.wae import IMQ_SCALES, MMD_BLOCK, WAEGAN, WAEMMD, imq_mmd
from wisetut.methods.wise import WiSE

__all__ = [
    "Forward",
    "Method",
    "AEVB",
    "BetaVAE",
    "WiSE",
    "WAEMMD",
    "WAEGAN",
    "NonparametricVAE",
    "WiSEVariant",
    "imq_mmd",
    "kernel_weights",
    "check_logvar_floor",
    "floored_logvar",
    "IMQ_SCALES",
    "MMD_BLOCK",
    "make_method",
    "METHODS",
]


# The five methods make_method builds by name; the nonparametric VAE and the Eq. 15-17 variants take
# their own arguments (NonparametricVAE, WiSEVariant).
METHODS = {cls.name: cls for cls in (AEVB, BetaVAE, WiSE, WAEMMD, WAEGAN)}


def make_method(name: str, **hparams) -> Method:
    """One of this module's five methods by name (``aevb``, ``beta_vae``, ``wise``, ``wae_mmd``, ``wae_gan``).

    The nonparametric VAE and the Eq. 15-17 variants are built by their classes.
    """
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}: expected one of {', '.join(METHODS)}")
    return METHODS[name](**hparams)
