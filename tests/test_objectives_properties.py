"""Property-based tests of the objectives (hypothesis): for any batch the DESIGN promises to handle.

For random batch sizes, latent sizes, ``|mu| <= 1e3`` and ``logvar`` in ``[-30, 10]`` (float32, the
training dtype), :func:`wise_kl`, :func:`aevb_kl` and :func:`log_gaussian_overlap` are finite with
finite gradients, agree with plain float64 formulas written here from the paper (values and
gradients), and keep their invariants: Eq. 21's bound at ``M = 1`` is AEVB's KL plus its closed-form
Jensen gap ``d (1 - log 2) / 2``, and permuting the batch changes nothing.

Examples are derandomised (the same ones on every run, so ``make test`` repeats exactly) and no
example database is written.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from wisetut import aevb_kl, log_gaussian_overlap, wise_kl

PROPERTY = settings(max_examples=60, deadline=None, derandomize=True, database=None)
LOG_2PI = math.log(2 * math.pi)

MU = st.floats(-1e3, 1e3, width=32, allow_subnormal=False)
LOGVAR = st.floats(-30.0, 10.0, width=32)


@st.composite
def posteriors(draw, m=None, d=None):
    """``(mu, logvar)`` float32 ``[m, d]``, m in 1..8 and d in 1..5 unless given."""
    m = draw(st.integers(1, 8)) if m is None else m
    d = draw(st.integers(1, 5)) if d is None else d
    mu = draw(arrays(np.float32, (m, d), elements=MU))
    logvar = draw(arrays(np.float32, (m, d), elements=LOGVAR))
    return torch.from_numpy(mu), torch.from_numpy(logvar)


@st.composite
def two_sets(draw):
    d = draw(st.integers(1, 5))
    return draw(posteriors(d=d)), draw(posteriors(d=d))


# --- the float64 formulas, straight from the paper -------------------------------------------------


def overlap_terms64(mu_a, lv_a, mu_b, lv_b):
    """Appendix B per dimension, float64: the ``[A, B, d]`` terms ``log 2pi + log s + delta^2 / s``."""
    s = lv_a.double().exp()[:, None] + lv_b.double().exp()[None]
    delta2 = (mu_a.double()[:, None] - mu_b.double()[None]).square()
    return LOG_2PI + s.log() + delta2 / s


def overlap64(mu_a, lv_a, mu_b, lv_b):
    return -0.5 * overlap_terms64(mu_a, lv_a, mu_b, lv_b).sum(2)


def aevb_kl64(mu, lv):
    mu, lv = mu.double(), lv.double()
    return 0.5 * (lv.exp() + mu.square() - 1.0 - lv).sum(1)


def wise_kl64(mu, lv):
    """Eq. 21: ``1/M sum_i log(1/M sum_j overlap_ij) + 1/(2M) sum_ik (var + mu^2 + log 2pi)``."""
    m = mu.shape[0]
    first = (torch.logsumexp(overlap64(mu, lv, mu, lv), 1) - math.log(m)).mean()
    return first + 0.5 * (lv.double().exp() + mu.double().square() + LOG_2PI).sum(1).mean()


def wise_kl64_scale(mu, lv):
    """The size of the numbers Eq. 21 adds up, which float32's rounding error is relative to."""
    first = (0.5 * overlap_terms64(mu, lv, mu, lv).diagonal(dim1=0, dim2=1).abs().sum(0)).max()
    return float(first + 0.5 * (lv.double().exp() + mu.double().square() + LOG_2PI).sum(1).max() + 1.0)


def _grads(f, *xs):
    xs = [x.clone().requires_grad_(True) for x in xs]
    out = f(*xs)
    out.sum().backward()
    return out.detach(), [x.grad for x in xs]


def _close(got, want, scale, rtol=1e-5):
    """Agreement to float32 precision: ``|got - want| <= rtol * scale``, elementwise."""
    err = (got.double() - want.double()).abs()
    assert torch.isfinite(got).all() and (err <= rtol * scale).all(), f"max error {err.max().item():.3g} at scale {scale}"


# --- finite, and agreeing with the float64 formulas ------------------------------------------------


@PROPERTY
@given(posteriors())
def test_wise_kl_is_finite_and_matches_eq21_in_float64(p):
    mu, lv = p
    value, (g_mu, g_lv) = _grads(wise_kl, mu, lv)
    want, (w_mu, w_lv) = _grads(wise_kl64, mu.double(), lv.double())
    scale = wise_kl64_scale(mu, lv)
    _close(value, want, scale)
    for g, w in ((g_mu, w_mu), (g_lv, w_lv)):
        assert torch.isfinite(g).all()
        _close(g, w, w.abs().max().item() + 1e-3, rtol=1e-4)


@PROPERTY
@given(posteriors())
def test_aevb_kl_is_finite_and_matches_the_closed_form_in_float64(p):
    mu, lv = p
    value, grads = _grads(aevb_kl, mu, lv)
    want, wants = _grads(aevb_kl64, mu.double(), lv.double())
    scale = 0.5 * (lv.double().exp() + mu.double().square() + 1.0 + lv.double().abs()).sum(1)
    _close(value, want, scale)
    grad_scale = mu.double().abs() + 0.5 * (lv.double().exp() + 1.0)  # d/dmu = mu, d/dlogvar = (var - 1) / 2
    for g, w in zip(grads, wants):
        _close(g, w, grad_scale, rtol=1e-6)


@PROPERTY
@given(two_sets())
def test_log_gaussian_overlap_is_finite_and_matches_appendix_b_in_float64(sets):
    (mu_a, lv_a), (mu_b, lv_b) = sets
    value, grads = _grads(log_gaussian_overlap, mu_a, lv_a, mu_b, lv_b)
    want, wants = _grads(overlap64, mu_a.double(), lv_a.double(), mu_b.double(), lv_b.double())
    assert value.shape == (len(mu_a), len(mu_b))
    _close(value, want, 0.5 * overlap_terms64(mu_a, lv_a, mu_b, lv_b).abs().sum(2))
    for g, w in zip(grads, wants):
        assert torch.isfinite(g).all()
        _close(g, w, w.abs().max().item() + 1e-6, rtol=1e-4)


# --- invariants -------------------------------------------------------------------------------------


@PROPERTY
@given(posteriors(m=1))
def test_the_bound_of_one_sample_is_aevb_kl_plus_the_jensen_gap(p):
    # M = 1: log N(mu; mu, 2 var) + C = AEVB's KL + d (1 - log 2) / 2 (float64: an identity, not a rounding test)
    mu, lv = (t.double() for t in p)
    d = mu.shape[1]
    gap = wise_kl(mu, lv) - aevb_kl(mu, lv)[0]
    assert abs(gap.item() - 0.5 * d * (1 - math.log(2))) <= 1e-12 * wise_kl64_scale(mu, lv)


@PROPERTY
@given(posteriors(), st.randoms(use_true_random=False))
def test_permuting_the_batch_changes_nothing(p, rnd):
    mu, lv = p
    perm = torch.tensor(rnd.sample(range(len(mu)), len(mu)))
    _close(wise_kl(mu[perm], lv[perm]), wise_kl(mu, lv), wise_kl64_scale(mu, lv), rtol=1e-6)
    assert torch.equal(aevb_kl(mu[perm], lv[perm]), aevb_kl(mu, lv)[perm])
    other = torch.tensor(rnd.sample(range(len(mu)), len(mu)))
    assert torch.equal(
        log_gaussian_overlap(mu[perm], lv[perm], mu[other], lv[other]), log_gaussian_overlap(mu, lv, mu, lv)[perm][:, other]
    )
