"""The Wasserstein auto-encoders (Tolstikhin et al., 2018): WAE-MMD (the IMQ kernel's MMD) and WAE-GAN (an adversary)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wisetut import distributed
from wisetut.checks import check_count, check_samples
from wisetut.methods.base import Forward, Method
from wisetut.models.base import AutoEncoder

__all__ = ["imq_mmd", "WAEMMD", "WAEGAN", "IMQ_SCALES", "MMD_BLOCK"]


IMQ_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


MMD_BLOCK = 4096  # samples of up to half as many rows take the whole kernel matrix: every training batch (2 x 100 rows)


def imq_mmd(z: Tensor, z_prior: Tensor, scales=IMQ_SCALES, prior_var: float = 1.0, block: int = MMD_BLOCK) -> Tensor:
    """Unbiased MMD^2 (U-statistic) with the inverse-multiquadratic kernel of the WAE paper.

    ``k(x, y) = sum_s C_s / (C_s + ||x - y||^2)`` with ``C_s = 2 d_z prior_var * s`` over the
    scales of the official WAE code (0.1 ... 10).

    Samples of up to ``block / 2`` rows each (every training batch) take the kernel matrix of both
    samples at once. Larger ones (chapter 6 measures 10,000 held-out codes against as many prior
    draws: 3.2 GB per float64 matrix, about 14 GB at the peak) sum it a few rows at a time (at most
    ``block``, at most about a million entries), in place when no gradient is needed; the two ways
    agree to float rounding (``tests/test_methods.py``).

    Raises:
        ValueError: for samples not both ``[batch >= 2, latent]``, a ``prior_var`` that is not a
            positive finite number (the kernel's scale ``C_s`` must be positive), scales that are
            not, or a ``block`` below 1.
    """
    if not (math.isfinite(prior_var) and prior_var > 0):
        raise ValueError(f"prior_var must be a positive finite variance, got {prior_var}")
    if len(scales) == 0 or not all(math.isfinite(s) and s > 0 for s in scales):
        raise ValueError(f"scales must be positive finite numbers, got {scales}")
    check_samples("z", z)
    check_samples("z_prior", z_prior, like=z, like_name="z")
    if z.shape != z_prior.shape:
        raise ValueError(f"z and z_prior must both be [batch, latent], got {tuple(z.shape)} and {tuple(z_prior.shape)}")
    check_count("block", block, 1)
    m, d = z.shape
    if m < 2:
        raise ValueError("imq_mmd needs at least 2 samples per batch")
    cs = [2.0 * d * prior_var * s for s in scales]
    if 2 * m > block:
        qq, pp, qp = (_imq_sum(a, b, cs, block) for a, b in ((z, z), (z_prior, z_prior), (z, z_prior)))
        return (qq + pp) / (m * (m - 1)) - 2.0 * qp / (m * m)
    both = torch.cat([z, z_prior])
    dist2 = torch.cdist(both, both).square()
    k = _imq_kernel(dist2, cs)
    off_diag = 1.0 - torch.eye(m, device=z.device, dtype=z.dtype)
    k_qq, k_pp, k_qp = k[:m, :m], k[m:, m:], k[:m, m:]
    return ((k_qq + k_pp) * off_diag).sum() / (m * (m - 1)) - 2.0 * k_qp.mean()


def _imq_kernel(dist2: Tensor, cs: list[float]) -> Tensor:
    """``sum_s C_s / (C_s + ||x - y||^2)`` from the squared distances."""
    return sum(c / (c + dist2) for c in cs)


def _imq_sum(a: Tensor, b: Tensor, cs: list[float], block: int) -> Tensor:
    """``sum_ij k(a_i, b_j)`` a few rows of ``a`` at a time; without ``i == j`` when ``a is b``.

    At most ``block`` rows, and at most about a million kernel entries (8 MB in float64), at a time:
    blocks that size are reused by the allocator instead of being mapped afresh, which made the
    whole-matrix sum 20x slower at 4,000 codes. Without a gradient the kernel is summed in place.
    """
    rows_at_once = max(1, min(block, 2**20 // len(b)))
    in_place = not (torch.is_grad_enabled() and (a.requires_grad or b.requires_grad))
    total = a.new_zeros(())
    for start in range(0, len(a), rows_at_once):
        d2 = torch.cdist(a[start : start + rows_at_once], b).square()
        if in_place:
            k, term = torch.zeros_like(d2), torch.empty_like(d2)
            for c in cs:
                k.add_(torch.add(d2, c, out=term).reciprocal_().mul_(c))
        else:
            k = _imq_kernel(d2, cs)
        if a is b:
            i = torch.arange(len(d2), device=a.device)
            k = k.index_put((i, start + i), k.new_zeros(()))  # out of place: autograd keeps the kernel
        total = total + k.sum()
    return total


class _WAE(Method):
    """What both WAEs share: the penalty's weight ``lam``, and a deterministic encoder by default.

    ``deterministic=True`` (the default, as in the WAE paper's experiments) makes the encoder a
    point map: the posterior variance is fixed at ``exp(POINT_LOGVAR)`` (sigma ~ 5e-5) and its head
    is unused, so ``z = mu`` up to negligible noise and every tool that reads posteriors still works.
    ``deterministic=False`` leaves the Gaussian encoder's variance free.
    """

    POINT_LOGVAR = -20.0

    def __init__(self, lam: float, deterministic: bool):
        super().__init__()
        if not lam >= 0:
            raise ValueError(f"lam must be non-negative, got {lam}")
        self.lam, self.deterministic = float(lam), bool(deterministic)

    def configure_model(self, model: AutoEncoder) -> None:
        model.fixed_logvar = self.POINT_LOGVAR if self.deterministic else None


class WAEMMD(_WAE):
    """WAE-MMD (Tolstikhin et al., 2018): reconstruction plus ``lambda`` times the IMQ MMD.

    The MMD compares encoder samples ``z ~ q(z|x)`` with as many prior samples. ``lam = 10`` is
    the WAE paper's MNIST value (100 for CelebA). With a Gaussian encoder
    (``deterministic=False``) the sine-wave model collapses to the prior (q(z|x) = N(0, I), the
    decoder ignores z), which chapter 4 notes.
    """

    name = "wae_mmd"

    def __init__(self, lam: float = 10.0, deterministic: bool = True):
        super().__init__(lam, deterministic)

    def losses(self, f: Forward) -> dict[str, Tensor]:
        # the MMD over the global batch: codes and prior draws of every process (one process: f.z itself)
        z, z_prior = distributed.coupled(f.z), distributed.coupled(distributed.normal_like(f.z))
        return {"model": f.recon.mean() + self.lam * imq_mmd(z, z_prior)}


class WAEGAN(_WAE):
    """WAE-GAN (Tolstikhin et al., 2018): an adversary in the latent space tells ``p(z)`` from ``q(z)``.

    The adversary ``D`` (an MLP on ``z``: ``layers`` hidden layers of ``hidden`` ReLU units, one
    logit) is a parameter group of its own, with its own Adam. Per batch, with ``z_q ~ q(z|x)`` and
    as many ``z_p ~ N(0, I)``:

    - adversary: ``lam [BCE(D(z_p), 1) + BCE(D(z_q), 0)]`` (learns to tell them apart);
    - model: ``1/M sum_i rec_i + lam BCE(D(z_q), 1)``, the non-saturating form of the penalty,
      which pushes ``q(z)`` towards where ``D`` believes the prior is.

    Defaults are the official code's MNIST configuration (``tolstikhin/wae``, ``configs.py``):
    ``lam = 10``, an adversary of 4 x 512 units, its Adam at ``lr_adv = 5e-4`` with
    ``beta1 = 0.5``; CelebA uses ``lam = 1``, 4 x 1024 units, ``lr_adv = 1e-3`` and
    ``prior_trick=True``, which adds ``log p(z)`` to the logit so that ``D`` learns only
    ``-log q(z)`` (the optimal discriminator is ``log p(z) - log q(z)``). The auto-encoder's Adam
    uses the run's learning rate with the official ``beta1 = 0.5`` (``ae_beta1``): with the usual
    0.9, the encoder's momentum overshoots the adversary and all codes collapse to one point
    (chapter 6 shows the numbers).

    The adversary is built on first use (:meth:`configure_model`), when the latent size is known,
    from the global RNG: train-from-the-same-seed gives the same adversary.
    """

    name = "wae_gan"

    def __init__(
        self,
        lam: float = 10.0,
        deterministic: bool = True,
        hidden: int = 512,
        layers: int = 4,
        lr_adv: float = 5e-4,
        adv_beta1: float = 0.5,
        prior_trick: bool = False,
        ae_beta1: float = 0.5,
    ):
        super().__init__(lam, deterministic)
        if hidden < 1 or layers < 1 or not lr_adv > 0 or not (0 <= adv_beta1 < 1 and 0 <= ae_beta1 < 1):
            raise ValueError(
                f"need hidden >= 1, layers >= 1, lr_adv > 0 and 0 <= adv_beta1, ae_beta1 < 1, "
                f"got {hidden}, {layers}, {lr_adv}, {adv_beta1}, {ae_beta1}"
            )
        self.hidden, self.layers, self.lr_adv = int(hidden), int(layers), float(lr_adv)
        self.adv_beta1, self.prior_trick, self.ae_beta1 = float(adv_beta1), bool(prior_trick), float(ae_beta1)
        self.adversary: nn.Sequential | None = None

    def configure_model(self, model: AutoEncoder) -> None:
        super().configure_model(model)
        if self.adversary is None or self.adversary[0].in_features != model.latent_dim:
            sizes = [model.latent_dim] + [self.hidden] * self.layers
            hidden = [m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.ReLU())]
            self.adversary = nn.Sequential(*hidden, nn.Linear(sizes[-1], 1))

    def logits(self, z: Tensor) -> Tensor:
        """The adversary's logit that ``z`` came from the prior, ``[M]``."""
        if self.adversary is None:
            raise RuntimeError("the adversary is built by configure_model(model) (train() calls it)")
        out = self.adversary(z).squeeze(1).float()
        if self.prior_trick:  # + log N(z | 0, I): D learns only the -log q(z) part
            out = out - 0.5 * (z.float().square().sum(1) + z.shape[1] * math.log(2 * math.pi))
        return out

    def parameter_groups(self, model: AutoEncoder) -> dict[str, list[nn.Parameter]]:
        if self.adversary is None:
            self.configure_model(model)
        return {"model": list(model.parameters()), "adversary": list(self.adversary.parameters())}

    def optimizer_settings(self, group: str, lr: float) -> dict:
        if group == "adversary":
            return {"lr": self.lr_adv, "betas": (self.adv_beta1, 0.999)}
        return {"lr": lr, "betas": (self.ae_beta1, 0.999)}

    def losses(self, f: Forward) -> dict[str, Tensor]:
        logit_q, logit_p = self.logits(f.z), self.logits(distributed.normal_like(f.z))
        ones, zeros = torch.ones_like(logit_q), torch.zeros_like(logit_q)
        bce = F.binary_cross_entropy_with_logits
        return {
            "model": f.recon.mean() + self.lam * bce(logit_q, ones),
            "adversary": self.lam * (bce(logit_p, ones) + bce(logit_q, zeros)),
        }
