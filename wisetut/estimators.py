"""Monte Carlo estimates of what Eq. 21 only bounds: the true aggregate-posterior KL.

``KL(q(z|B) || p(z))`` for the mixture ``q(z|B) = 1/M sum_i N(z|mu_i, diag(var_i))`` (Eq. 10)
has no closed form (Section 3.3.2). These estimators sample it, so that the book can measure
the gap between the bound of Eq. 21 (:func:`wisetut.wise_kl`) and the truth, and the spread of
a trained model's aggregate posterior.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor

from wisetut.checks import check_count, check_samples
from wisetut.objectives import LOG_2PI, aevb_kl, check_posterior, neg_expected_log_prior, wise_kl

__all__ = [
    "log_aggregate_density",
    "log_aggregate_density_fast",
    "mc_aggregate_kl",
    "mc_aggregate_kl_stratified",
    "mc_aggregate_kl_reparam",
    "mc_mutual_information",
    "regulariser_identity",
    "form_difference",
]


def log_aggregate_density(z: Tensor, mu: Tensor, logvar: Tensor, chunk: int = 4096) -> Tensor:
    """``log q(z|B) = log 1/M sum_i N(z|mu_i, diag(exp(logvar_i)))`` at each row of ``z``: ``[N]``.

    The direct sum over ``[chunk, M, d]``, ``chunk`` points at a time, so memory stays
    ``O(chunk * M * d)``: exact to rounding, so that the chapters' closed-form checks (chapters 2, 3)
    and bounds (``I_B <= log M``, chapter 10) hold to 1e-12. :func:`log_aggregate_density_fast` is the
    faster form for large Monte Carlo sums.
    """
    check_posterior(mu, logvar)
    check_samples("z", z, like=mu, like_name="mu")
    check_count("chunk", chunk, 1)
    inv_var = (-logvar).exp()
    out = []
    for start in range(0, z.shape[0], chunk):
        zc = z[start : start + chunk, None, :]  # [n, 1, d]
        log_n = -0.5 * ((zc - mu).square() * inv_var + logvar + LOG_2PI).sum(-1)  # [n, M]
        out.append(torch.logsumexp(log_n, dim=1) - math.log(mu.shape[0]))
    return torch.cat(out)


def log_aggregate_density_fast(z: Tensor, mu: Tensor, logvar: Tensor, chunk: int = 4096) -> Tensor:
    """:func:`log_aggregate_density` with each component's exponent as a matrix product: 3-4x faster.

    ``sum_k (z_k - mu_ik)^2 / var_ik`` is ``[z^2, z] @ [1/var_i, -2 mu_i/var_i] + sum_k mu_ik^2/var_ik``,
    then one log-sum-exp over the components; ``chunk`` points at a time (memory ``O(chunk * M)``).
    The expansion cancels: in float64 it agrees with the direct sum to about 1e-12 nats for
    ordinary posteriors and 1e-5 for posteriors as narrow as WAE's (``tests/test_latent_fast.py``),
    far below the Monte Carlo error of the aggregate KL that :func:`~wisetut.latent.latent_summary`
    computes with it, but not below 1e-12: exact bounds use the direct sum.
    """
    check_posterior(mu, logvar)
    check_samples("z", z, like=mu, like_name="mu")
    check_count("chunk", chunk, 1)
    inv_var = (-logvar).exp()
    weights = torch.cat([inv_var, -2.0 * mu * inv_var], 1)  # [M, 2d]
    const = (mu.square() * inv_var + logvar + LOG_2PI).sum(1)  # [M]
    out = []
    for start in range(0, z.shape[0], chunk):
        zc = z[start : start + chunk]
        log_n = -0.5 * (torch.cat([zc.square(), zc], 1) @ weights.T + const)  # [n, M]
        out.append(torch.logsumexp(log_n, dim=1) - math.log(mu.shape[0]))
    return torch.cat(out)


def _check_draws(name: str, n: int) -> None:
    if not isinstance(n, numbers.Integral) or n < 2:
        raise ValueError(f"{name} must be an integer of at least 2 (a standard error needs two draws), got {n!r}")


def mc_aggregate_kl(
    mu: Tensor, logvar: Tensor, n_samples: int = 20_000, generator: torch.Generator | None = None, *, fast: bool = False
) -> tuple[float, float]:
    """Monte Carlo ``KL(q(z|B) || N(0, I))`` and its standard error.

    Draws ``n_samples`` points from the mixture ``q(z|B)`` (Eq. 10) and averages
    ``log q(z|B) - log N(z|0, I)``, with :func:`log_aggregate_density` (``fast``:
    :func:`log_aggregate_density_fast`, whose error is far below the estimate's standard error).

    Returns:
        ``(estimate, standard_error)`` as Python floats.

    Raises:
        ValueError: for posteriors not ``[M, d]``, or fewer than 2 samples (no standard error).
    """
    check_posterior(mu, logvar)
    _check_draws("n_samples", n_samples)
    with torch.no_grad():
        comp = torch.randint(mu.shape[0], (n_samples,), generator=generator, device=mu.device)
        eps = torch.randn(n_samples, mu.shape[1], generator=generator, dtype=mu.dtype, device=mu.device)
        z = mu[comp] + (0.5 * logvar[comp]).exp() * eps
        log_p = -0.5 * (z.square() + LOG_2PI).sum(1)
        density = log_aggregate_density_fast if fast else log_aggregate_density
        diff = density(z, mu, logvar) - log_p
        return diff.mean().item(), (diff.std() / math.sqrt(n_samples)).item()


def _log_aggregate_over_own(mu: Tensor, logvar: Tensor, per_component: int, generator) -> Tensor:
    """``log q(z|B) - log q_i(z)`` at ``per_component`` draws ``z ~ q_i`` from each component: ``[M, S]``."""
    _check_draws("per_component", per_component)
    m, d = mu.shape
    eps = torch.randn(m, per_component, d, generator=generator, dtype=mu.dtype, device=mu.device)
    z = mu[:, None, :] + (0.5 * logvar).exp()[:, None, :] * eps  # [M, S, d]: S draws from each q_i
    log_q_batch = log_aggregate_density(z.reshape(-1, d), mu, logvar).reshape(m, per_component)
    log_q_own = -0.5 * (eps.square() + logvar[:, None, :] + LOG_2PI).sum(-1)  # log q_i(z)
    return log_q_batch - log_q_own


def mc_aggregate_kl_stratified(
    mu: Tensor, logvar: Tensor, per_component: int = 256, generator: torch.Generator | None = None
) -> tuple[float, float]:
    """``KL(q(z|B) || N(0, I))`` by stratified Monte Carlo with exact parts: a low-variance estimate.

    Writes the KL as ``1/M sum_i (E_qi[log q_i] + E_qi[log q(z|B) - log q_i] - E_qi[log p])``.
    The first term (a negative entropy) and the last (Eq. 13) are exact; only the middle one is
    sampled, with ``per_component`` draws from *each* component ``q_i``. For well-separated
    posteriors the middle term is nearly constant and the standard error is tiny, which is what
    measuring the small gap of Eq. 21 needs (chapter 2). Same estimand as :func:`mc_aggregate_kl`.

    Returns:
        ``(estimate, standard_error)`` as Python floats.
    """
    check_posterior(mu, logvar)
    m = mu.shape[0]
    with torch.no_grad():
        diff = _log_aggregate_over_own(mu, logvar, per_component, generator)
        neg_entropy = -0.5 * (LOG_2PI + logvar + 1.0).sum(1)  # E_qi[log q_i], exact
        kl = (neg_entropy + diff.mean(1) + neg_expected_log_prior(mu, logvar)).mean()
        se = (diff.var(1) / per_component).sum().sqrt() / m
    return kl.item(), se.item()


def mc_mutual_information(
    mu: Tensor, logvar: Tensor, per_component: int = 64, generator: torch.Generator | None = None
) -> tuple[float, float]:
    """Monte Carlo mutual information ``I(x; z)`` between the ``M`` inputs and their codes, and its standard error.

    With ``x`` uniform over the ``M`` inputs behind ``mu, logvar`` and ``z ~ q(z|x)``,
    ``I(x; z) = 1/M sum_i E_{q_i}[log q_i(z) - log q(z|B)]``: each component's KL to the aggregate
    (Eq. 10). Sampled with ``per_component`` draws from each ``q_i``. It lies in ``[0, log M]``.

    Returns:
        ``(estimate, standard_error)`` as Python floats.
    """
    check_posterior(mu, logvar)
    m = mu.shape[0]
    with torch.no_grad():
        diff = -_log_aggregate_over_own(mu, logvar, per_component, generator)
        se = (diff.var(1) / per_component).sum().sqrt() / m
        return diff.mean().item(), se.item()


def regulariser_identity(
    mu: Tensor, logvar: Tensor, n_samples: int = 20_000, per_component: int = 64, seed: int = 0
) -> dict[str, float]:
    """Hoffman & Johnson's identity, checked: ``mean_i KL(q_i || p) = KL(q(z|B) || p) + I(x; z)``.

    The WAE slides (Tolstikhin et al., 2018) read it as "VAE regulariser = WAE regulariser (with the KL) + mutual
    information". The left side is exact (:func:`wisetut.aevb_kl`); the two terms on the right are
    estimated independently (:func:`mc_aggregate_kl`, :func:`mc_mutual_information`). Returns all
    three, the gap ``left - right`` and the gap's standard error.
    """
    g = torch.Generator(device=mu.device).manual_seed(seed)
    mean_kl = aevb_kl(mu, logvar).mean().item()
    agg, agg_se = mc_aggregate_kl(mu, logvar, n_samples=n_samples, generator=g)
    mi, mi_se = mc_mutual_information(mu, logvar, per_component=per_component, generator=g)
    return {
        "mean_kl": mean_kl,
        "aggregate_kl": agg,
        "aggregate_kl_se": agg_se,
        "mutual_information": mi,
        "mutual_information_se": mi_se,
        "gap": mean_kl - agg - mi,
        "gap_se": math.hypot(agg_se, mi_se),
    }


def form_difference(mu: Tensor, logvar: Tensor, per_component: int = 256, seed: int = 0) -> dict[str, float]:
    """How much the *form* of the prior term can change a batch's loss at per-sample weight ``1/M`` (chapter 10).

    AEVB with ``beta = 1/M`` puts ``1/M`` of the mean per-sample KL into the per-sample loss; Eq. 27
    puts ``1/M`` of Eq. 21's bound ``KL_UB`` on the aggregate KL there. By the identity of chapter 1
    (checked in chapter 6, :func:`regulariser_identity`), ``mean_i KL(q_i || p) = KL(q(z|B) || p) + I_B``
    with ``0 <= I_B <= log M``, and ``KL_UB`` exceeds the aggregate KL by its Jensen gap ``G_B >= 0``
    (Eq. 19-20), so for any encoder the per-sample losses of the two forms differ by

        ``difference = (mean_i KL_i - KL_UB) / M = (I_B - G_B) / M  <=  log M / M``.

    ``difference`` and ``bound = log M / M`` are exact (closed forms); ``I_B`` is sampled
    (:func:`mc_mutual_information`, ``per_component`` draws from each posterior), the aggregate KL
    is ``mean_kl - I_B`` and ``jensen_gap = wise_kl - aggregate_kl``. Pass float64 posteriors when
    they are narrow (trained models' can be).
    """
    check_posterior(mu, logvar)
    m = mu.shape[0]
    g = torch.Generator(device=mu.device).manual_seed(seed)
    mean_kl = aevb_kl(mu, logvar).mean().item()
    mi, mi_se = mc_mutual_information(mu, logvar, per_component=per_component, generator=g)
    ub = wise_kl(mu, logvar).item()
    return {
        "mean_kl": mean_kl,
        "mutual_information": mi,
        "mutual_information_se": mi_se,
        "aggregate_kl": mean_kl - mi,
        "wise_kl": ub,
        "jensen_gap": ub - (mean_kl - mi),
        "difference": (mean_kl - ub) / m,
        "bound": math.log(m) / m,
        "batch_size": m,
    }


def mc_aggregate_kl_reparam(mu: Tensor, logvar: Tensor, eps: Tensor) -> Tensor:
    """A differentiable Monte Carlo estimate of ``KL(q(z|B) || N(0, I))`` from fixed noise ``eps``.

    ``eps`` is ``[M, S, d]``: ``z_is = mu_i + sigma_i eps_is`` are ``S`` reparameterised draws from
    each component of the batch's aggregate posterior (Eq. 10), and the estimate is the mean of
    ``log q(z|B) - log p(z)`` over all of them: unbiased for the true KL that Eq. 21 only bounds, and
    differentiable in ``mu`` and ``logvar`` (for training with the true KL as the penalty).

    Computed in float64 (and returned in ``mu``'s dtype): trained posteriors can become so narrow
    (``logvar`` below -88) that ``exp(-logvar)`` overflows float32. Each draw's density under its own
    component is taken exactly from its noise, ``-(eps^2 + logvar + log 2 pi) / 2``, not from
    ``z - mu_i``, which rounds to zero for such posteriors.

    Raises:
        ValueError: for posteriors not ``[M, d]`` or ``eps`` not ``[M, S, d]``.
    """
    check_posterior(mu, logvar)
    if eps.dim() != 3 or eps.shape[0] != mu.shape[0] or eps.shape[2] != mu.shape[1]:
        raise ValueError(f"eps must be [{mu.shape[0]}, S, {mu.shape[1]}], got {tuple(eps.shape)}")
    m, s, d = eps.shape
    mu64, lv64, eps64 = mu.double(), logvar.double(), eps.double()
    z = mu64[:, None, :] + (0.5 * lv64).exp()[:, None, :] * eps64  # [M, S, d]
    # log N(z_is | mu_j, var_j) for every component j: [M, S, M]
    log_n = -0.5 * ((z[:, :, None, :] - mu64) ** 2 * (-lv64).exp() + lv64 + LOG_2PI).sum(-1)
    own = -0.5 * (eps64**2 + lv64[:, None, :] + LOG_2PI).sum(-1)  # [M, S], exact
    is_own = torch.eye(m, dtype=torch.bool, device=mu.device)[:, None, :].expand(m, s, m)
    log_n = torch.where(is_own, own[:, :, None].expand(m, s, m), log_n)
    log_q = torch.logsumexp(log_n, dim=2) - math.log(m)
    log_p = -0.5 * (z**2 + LOG_2PI).sum(-1)
    return (log_q - log_p).mean().to(mu.dtype)
