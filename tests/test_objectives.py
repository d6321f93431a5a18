"""Unit tests of the math core: closed forms, shapes, errors, gradients, extremes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, special, stats

from wisetut import aevb_kl, log_gaussian_overlap, wise_kl
from wisetut.objectives import wise_kl_naive


def _params(m, d, seed=0, dtype=torch.float64, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    mu = scale * torch.randn(m, d, generator=g, dtype=dtype)
    logvar = torch.empty(m, d, dtype=dtype).uniform_(-3, 1, generator=g)
    return mu, logvar


# ---- an independent float64 reference in NumPy/SciPy ------------------------------------------


def ref_log_overlap(mu_a, lv_a, mu_b, lv_b):
    """sum_k log N(mu_a; mu_b, var_a + var_b) via scipy.stats.norm, float64."""
    mu_a, lv_a, mu_b, lv_b = (np.asarray(t, dtype=np.float64) for t in (mu_a, lv_a, mu_b, lv_b))
    s = np.exp(lv_a)[:, None, :] + np.exp(lv_b)[None, :, :]
    return stats.norm.logpdf(mu_a[:, None, :], loc=mu_b[None, :, :], scale=np.sqrt(s)).sum(-1)


def ref_aevb_kl(mu, lv):
    mu, lv = np.asarray(mu, np.float64), np.asarray(lv, np.float64)
    # KL(N(m, v) || N(0, 1)) = log(1/sd) + (v + m^2)/2 - 1/2, per dimension
    return (-0.5 * lv + 0.5 * (np.exp(lv) + mu**2) - 0.5).sum(1)


def ref_wise_kl(mu, lv):
    mu, lv = np.asarray(mu, np.float64), np.asarray(lv, np.float64)
    m = mu.shape[0]
    lo = ref_log_overlap(mu, lv, mu, lv)
    first = np.mean(special.logsumexp(lo, axis=1, b=1.0 / m))
    second = 0.5 * np.mean((np.exp(lv) + mu**2 + np.log(2 * np.pi)).sum(1))
    return first + second


# ---- closed forms against the reference ---------------------------------------------------------


@pytest.mark.parametrize("m,d", [(1, 1), (5, 3), (64, 4), (33, 64)])
def test_float64_agrees_with_reference(m, d):
    mu, lv = _params(m, d, seed=m + d)
    mu2, lv2 = _params(m + 2, d, seed=m * d + 1)
    np.testing.assert_allclose(
        log_gaussian_overlap(mu, lv, mu2, lv2).numpy(), ref_log_overlap(mu, lv, mu2, lv2), rtol=1e-9, atol=1e-9
    )
    np.testing.assert_allclose(aevb_kl(mu, lv).numpy(), ref_aevb_kl(mu, lv), rtol=1e-9, atol=1e-9)
    assert abs(wise_kl(mu, lv).item() - ref_wise_kl(mu, lv)) <= 1e-9 * max(1.0, abs(ref_wise_kl(mu, lv)))


@pytest.mark.parametrize("m,d", [(8, 2), (64, 4), (100, 64)])
def test_float32_agrees_with_reference(m, d):
    mu, lv = _params(m, d, seed=3, dtype=torch.float32)
    np.testing.assert_allclose(
        log_gaussian_overlap(mu, lv, mu, lv).numpy(), ref_log_overlap(mu, lv, mu, lv), rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(aevb_kl(mu, lv).numpy(), ref_aevb_kl(mu, lv), rtol=1e-4, atol=1e-4)
    ref = ref_wise_kl(mu, lv)
    assert abs(wise_kl(mu, lv).item() - ref) <= 1e-4 * max(1.0, abs(ref))


def test_overlap_is_the_integral_by_quadrature():
    """Appendix B: int N(z|a, va) N(z|b, vb) dz = N(a; b, va + vb), by adaptive quadrature."""
    for a, b, va, vb in [(0.0, 1.0, 1.0, 0.5), (-2.0, 3.0, 0.1, 2.0), (0.3, 0.3, 1e-2, 1e-2)]:
        f = lambda z: stats.norm.pdf(z, a, math.sqrt(va)) * stats.norm.pdf(z, b, math.sqrt(vb))  # noqa: E731
        numeric, _ = integrate.quad(f, -np.inf, np.inf, points=None, epsabs=1e-13)
        closed = (
            log_gaussian_overlap(
                torch.tensor([[a]], dtype=torch.float64),
                torch.tensor([[math.log(va)]], dtype=torch.float64),
                torch.tensor([[b]], dtype=torch.float64),
                torch.tensor([[math.log(vb)]], dtype=torch.float64),
            )
            .exp()
            .item()
        )
        assert closed == pytest.approx(numeric, rel=1e-7)


def test_wise_kl_matches_naive_broadcast():
    mu, lv = _params(50, 7, seed=11)
    assert wise_kl(mu, lv).item() == pytest.approx(wise_kl_naive(mu, lv).item(), rel=1e-12)


def test_wise_kl_of_one_sample_exceeds_aevb_kl_by_the_jensen_constant():
    """With M = 1 the aggregate is q itself, so the true KL is AEVB's; Eq. 21 adds d(1 - log 2)/2."""
    mu, lv = _params(1, 6, seed=2)
    gap = wise_kl(mu, lv).item() - aevb_kl(mu, lv).item()
    assert gap == pytest.approx(0.5 * 6 * (1 - math.log(2)), rel=1e-12)


def test_wise_kl_is_never_below_a_monte_carlo_true_kl():
    """Eq. 19: KL_UB >= KL(q(z|B) || p(z)); the MC estimate's 5-sigma band must not exceed the bound."""
    g = torch.Generator().manual_seed(0)
    for m, d, scale in [(4, 1, 1.0), (16, 2, 2.0), (64, 4, 0.5), (32, 8, 3.0)]:
        mu, lv = _params(m, d, seed=m * 7 + d, scale=scale)
        n = 20_000
        comp = torch.randint(m, (n,), generator=g)
        z = mu[comp] + (0.5 * lv[comp]).exp() * torch.randn(n, d, generator=g, dtype=torch.float64)
        log_q = torch.logsumexp(log_gaussian_overlap(z, torch.full_like(z, -80.0), mu, lv), 1) - math.log(m)
        log_p = -0.5 * (z.square() + math.log(2 * math.pi)).sum(1)
        diff = log_q - log_p
        mc, se = diff.mean().item(), diff.std().item() / math.sqrt(n)
        assert wise_kl(mu, lv).item() >= mc - 5 * se


# ---- shapes, dtypes, devices, errors ------------------------------------------------------------


def test_shapes_and_dtypes():
    for dtype in (torch.float32, torch.float64):
        mu, lv = _params(10, 3, dtype=dtype)
        assert log_gaussian_overlap(mu, lv, mu[:4], lv[:4]).shape == (10, 4)
        assert aevb_kl(mu, lv).shape == (10,)
        out = wise_kl(mu, lv)
        assert out.shape == () and out.dtype == dtype


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_agrees_with_cpu():
    mu, lv = _params(128, 16, dtype=torch.float32)
    assert wise_kl(mu.cuda(), lv.cuda()).cpu().item() == pytest.approx(wise_kl(mu, lv).item(), rel=1e-5)


@pytest.mark.parametrize(
    "args",
    [
        (torch.zeros(3), torch.zeros(3)),
        (torch.zeros(2, 3, 4), torch.zeros(2, 3, 4)),
        (torch.zeros(3, 2), torch.zeros(3, 3)),
        (torch.zeros(0, 2), torch.zeros(0, 2)),
        (torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, 2, dtype=torch.long)),
        ([[0.0]], [[0.0]]),
    ],
)
def test_bad_shapes_raise_value_error(args):
    for fn in (aevb_kl, wise_kl):
        with pytest.raises(ValueError, match=r"\[batch, latent\]|floating-point"):
            fn(*args)


def test_overlap_latent_sizes_must_match():
    mu, lv = _params(3, 2)
    mu2, lv2 = _params(3, 5)
    with pytest.raises(ValueError, match="same latent size"):
        log_gaussian_overlap(mu, lv, mu2, lv2)


# ---- gradients and extremes ---------------------------------------------------------------------


def test_gradcheck_overlap_and_wise_kl():
    mu, lv = _params(6, 5, seed=4)
    mu2, lv2 = _params(4, 5, seed=5)
    inputs = [t.clone().requires_grad_() for t in (mu, lv, mu2, lv2)]
    assert torch.autograd.gradcheck(log_gaussian_overlap, inputs)
    assert torch.autograd.gradcheck(wise_kl, inputs[:2])
    assert torch.autograd.gradcheck(aevb_kl, inputs[:2])


def test_gradients_match_naive_autograd():
    mu, lv = _params(40, 9, seed=8)
    a = [mu.clone().requires_grad_(), lv.clone().requires_grad_()]
    b = [mu.clone().requires_grad_(), lv.clone().requires_grad_()]
    wise_kl(*a).backward()
    wise_kl_naive(*b).backward()
    for x, y in zip(a, b):
        torch.testing.assert_close(x.grad, y.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("logvar_value", [-30.0, 10.0])
@pytest.mark.parametrize("mu_scale", [0.0, 1e3])
def test_float32_extremes_stay_finite(logvar_value, mu_scale):
    g = torch.Generator().manual_seed(0)
    mu = (mu_scale * (2 * torch.rand(64, 8, generator=g) - 1)).requires_grad_()
    lv = torch.full((64, 8), logvar_value).requires_grad_()
    for fn in (wise_kl, lambda m, v: aevb_kl(m, v).sum()):
        mu.grad = lv.grad = None
        value = fn(mu, lv)
        value.backward()
        assert torch.isfinite(value), (fn, value)
        assert torch.isfinite(mu.grad).all() and torch.isfinite(lv.grad).all()
    assert torch.isfinite(log_gaussian_overlap(mu, lv, mu, lv)).all()


def test_extreme_values_agree_with_float64():
    g = torch.Generator().manual_seed(1)
    mu = 1e3 * (2 * torch.rand(32, 4, generator=g) - 1)
    lv = torch.empty(32, 4).uniform_(-30, 10, generator=g)
    ref = ref_wise_kl(mu.double(), lv.double())
    assert wise_kl(mu, lv).item() == pytest.approx(ref, rel=1e-4)


def test_stratified_and_plain_monte_carlo_agree():
    from wisetut.estimators import mc_aggregate_kl, mc_aggregate_kl_stratified

    g = torch.Generator().manual_seed(3)
    for m, d, scale in [(1, 3, 1.0), (16, 2, 1.0), (32, 4, 3.0)]:
        mu, lv = _params(m, d, seed=m + d, scale=scale)
        a, sa = mc_aggregate_kl_stratified(mu, lv, per_component=512, generator=g)
        b, sb = mc_aggregate_kl(mu, lv, n_samples=40_000, generator=g)
        assert abs(a - b) < 5 * math.hypot(sa, sb) + 1e-9
        assert a <= wise_kl(mu, lv).item() + 5 * sa
    # one component: the aggregate is q itself and the KL is AEVB's, with no sampling error
    mu, lv = _params(1, 3, seed=9)
    a, sa = mc_aggregate_kl_stratified(mu, lv, per_component=64, generator=g)
    assert a == pytest.approx(aevb_kl(mu, lv).item(), abs=1e-10) and sa < 1e-10


# ---- the tiled kernels at sizes that use every path, and second derivatives ---------------------


@pytest.mark.parametrize("m,d", [(150, 9), (257, 16)])
def test_large_batches_match_naive_in_value_and_gradient(m, d):
    """Batches of several row blocks: the symmetric (upper-tile) forward and backward and the paired
    logarithms, with a latent size that leaves a partial block of dimensions."""
    mu, lv = _params(m, d, seed=m)
    a = [mu.clone().requires_grad_(), lv.clone().requires_grad_()]
    b = [mu.clone().requires_grad_(), lv.clone().requires_grad_()]
    va, vb = wise_kl(*a), wise_kl_naive(*b)
    assert va.item() == pytest.approx(vb.item(), rel=1e-12)
    assert abs(va.item() - ref_wise_kl(mu, lv)) <= 1e-10 * max(1.0, abs(vb.item()))
    va.backward()
    vb.backward()
    for x, y in zip(a, b):
        torch.testing.assert_close(x.grad, y.grad, rtol=1e-10, atol=1e-12)
    mu2, lv2 = _params(70, d, seed=1)
    np.testing.assert_allclose(
        log_gaussian_overlap(mu, lv, mu2, lv2).numpy(), ref_log_overlap(mu, lv, mu2, lv2), rtol=1e-11, atol=1e-11
    )


@pytest.mark.parametrize("logvar_range", [(-30.0, 10.0), (-80.0, -79.0)])
def test_large_float32_batches_stay_accurate_at_the_extremes(logvar_range):
    """|mu| <= 1e3 and logvar in [-30, 10] (paired logarithms), and near the metric's floor of -80
    (where products of two variances would underflow: the unpaired path)."""
    g = torch.Generator().manual_seed(2)
    mu = 1e3 * (2 * torch.rand(200, 8, generator=g) - 1)
    lv = torch.empty(200, 8).uniform_(*logvar_range, generator=g)
    mu32, lv32 = mu.clone().requires_grad_(), lv.clone().requires_grad_()
    value = wise_kl(mu32, lv32)
    value.backward()
    assert torch.isfinite(mu32.grad).all() and torch.isfinite(lv32.grad).all()
    assert value.item() == pytest.approx(ref_wise_kl(mu.double(), lv.double()), rel=1e-4)


def test_second_derivatives_are_exact():
    """gradgradcheck in float64, and the Hessian of Eq. 21 equals the naive formula's."""
    mu, lv = _params(6, 3, seed=4)
    mu2, lv2 = _params(4, 3, seed=5)
    inputs = [t.clone().requires_grad_() for t in (mu, lv, mu2, lv2)]
    assert torch.autograd.gradgradcheck(wise_kl, inputs[:2])
    assert torch.autograd.gradgradcheck(log_gaussian_overlap, inputs)
    h = torch.autograd.functional.hessian(wise_kl, (mu, lv))
    h_naive = torch.autograd.functional.hessian(wise_kl_naive, (mu, lv))
    for row, row_naive in zip(h, h_naive):
        for x, y in zip(row, row_naive):
            torch.testing.assert_close(x, y, rtol=1e-10, atol=1e-12)
    # a batch of two row blocks too (where the first-order forward and backward are the symmetric tiled ones)
    mu, lv = _params(150, 2, seed=6)
    grad = torch.autograd.grad(wise_kl(mu.requires_grad_(), lv), mu, create_graph=True)[0]
    grad_naive = torch.autograd.grad(wise_kl_naive(mu, lv), mu, create_graph=True)[0]
    w = torch.randn(mu.shape, generator=torch.Generator().manual_seed(0), dtype=mu.dtype)
    torch.testing.assert_close(
        torch.autograd.grad((grad * w).sum(), mu)[0], torch.autograd.grad((grad_naive * w).sum(), mu)[0], rtol=1e-10, atol=1e-12
    )


def _naive_overlap_sum(mu, lv, mu_b, lv_b):
    s = lv.exp()[:, None, :] + lv_b.exp()[None, :, :]
    return (-0.5 * (math.log(2 * math.pi) + s.log() + (mu[:, None, :] - mu_b[None, :, :]).square() / s)).sum()


def test_torch_func_grad_works_to_second_order():
    mu, lv = _params(8, 3, seed=7)
    pairs = [
        (wise_kl, wise_kl_naive),
        (lambda m, v: log_gaussian_overlap(m, v, m[:3], v[:3]).sum(), lambda m, v: _naive_overlap_sum(m, v, m[:3], v[:3])),
    ]
    for fn, naive in pairs:
        g, g_naive = torch.func.grad(fn, argnums=(0, 1))(mu, lv), torch.func.grad(naive, argnums=(0, 1))(mu, lv)
        for x, y in zip(g, g_naive):
            torch.testing.assert_close(x, y, rtol=1e-10, atol=1e-12)
        gg = torch.func.grad(lambda m: torch.func.grad(fn)(m, lv).square().sum())(mu)
        gg_naive = torch.func.grad(lambda m: torch.func.grad(naive)(m, lv).square().sum())(mu)
        torch.testing.assert_close(gg, gg_naive, rtol=1e-10, atol=1e-12)


def test_wise_kl_under_vmap_equals_each_model_alone():
    """Several models' batches stacked (torch.func.vmap, as benchmarks/train_speed.py's stacked seeds): values and
    gradients of Eq. 21 and of the pairwise overlap are each model's own."""
    from torch.func import grad, vmap

    g = torch.Generator().manual_seed(3)
    mu, logvar = (
        torch.randn(3, 16, 4, generator=g, dtype=torch.float64),
        0.3 * torch.randn(3, 16, 4, generator=g, dtype=torch.float64),
    )
    values = vmap(wise_kl)(mu, logvar)
    grads = vmap(grad(wise_kl, argnums=(0, 1)))(mu, logvar)
    overlaps = vmap(log_gaussian_overlap, in_dims=(0, 0, None, None))(mu, logvar, mu[0], logvar[0])
    for k in range(3):
        m, lv = mu[k].clone().requires_grad_(True), logvar[k].clone().requires_grad_(True)
        v = wise_kl(m, lv)
        gm, glv = torch.autograd.grad(v, (m, lv))
        torch.testing.assert_close(values[k], v.detach(), rtol=1e-12, atol=0)
        torch.testing.assert_close(grads[0][k], gm, rtol=1e-10, atol=1e-14)
        torch.testing.assert_close(grads[1][k], glv, rtol=1e-10, atol=1e-14)
        torch.testing.assert_close(overlaps[k], log_gaussian_overlap(mu[k], logvar[k], mu[0], logvar[0]), rtol=1e-12, atol=0)
