"""Pieces of the WAE chapter: the mutual information and the regulariser identity, fading squares, WAE networks."""

from __future__ import annotations

import math

import pytest
import torch

from wisetut.data.squares import distance_to_squares, grey_level, make_fading_squares, square_mask
from wisetut.estimators import mc_aggregate_kl, mc_aggregate_kl_stratified, mc_mutual_information, regulariser_identity
from wisetut.models.squares import squares_autoencoder
from wisetut.models.wae_mnist import Conv2dSame, wae_mnist_autoencoder


def test_mutual_information_extremes():
    # identical posteriors: the code says nothing about which input it came from
    mu, lv = torch.zeros(50, 3, dtype=torch.float64), torch.zeros(50, 3, dtype=torch.float64)
    mi, se = mc_mutual_information(mu, lv)
    assert mi == pytest.approx(0.0, abs=1e-12) and se == pytest.approx(0.0, abs=1e-12)
    # far-apart, narrow posteriors: the code identifies its input, I = log M
    mu = 100.0 * torch.eye(20, dtype=torch.float64)
    mi, _ = mc_mutual_information(mu, torch.full((20, 20), -4.0, dtype=torch.float64))
    assert mi == pytest.approx(math.log(20), abs=1e-9)
    with pytest.raises(ValueError):
        mc_mutual_information(torch.zeros(5), torch.zeros(5))


@pytest.mark.parametrize("n", [0, 1, 2.5])
def test_monte_carlo_estimators_need_two_draws(n):
    mu, lv = torch.zeros(4, 2), torch.zeros(4, 2)
    with pytest.raises(ValueError, match="n_samples must be an integer of at least 2"):
        mc_aggregate_kl(mu, lv, n_samples=n)
    for estimator in (mc_aggregate_kl_stratified, mc_mutual_information):
        with pytest.raises(ValueError, match="per_component must be an integer of at least 2"):
            estimator(mu, lv, per_component=n)


@pytest.mark.parametrize("spread,logvar", [(1.0, -1.0), (3.0, -4.0), (0.3, 0.0)])
def test_regulariser_identity_closes_within_monte_carlo_error(spread, logvar):
    g = torch.Generator().manual_seed(1)
    mu = spread * torch.randn(300, 4, generator=g, dtype=torch.float64)
    lv = logvar + 0.3 * torch.randn(300, 4, generator=g, dtype=torch.float64)
    r = regulariser_identity(mu, lv, n_samples=20_000)
    assert abs(r["gap"]) < 4 * r["gap_se"] + 1e-9, r
    assert 0.0 <= r["mutual_information"] <= math.log(300) + 1e-9
    # the check is sharp enough to see a left side that is off by a single nat: it can fail
    assert abs(r["gap"] + 1.0) > 4 * r["gap_se"], r


def test_fading_squares():
    s = make_fading_squares(500, seed=3)
    assert s.x.shape == (500, 1, 32, 32) and 0.0 <= s.grey.min() and s.grey.max() <= 1.0
    assert torch.equal(s.x, make_fading_squares(500, seed=3).x)
    assert torch.equal(s.x[:, 0, 16, 16], s.grey) and s.x[:, :, :8].abs().max() == 0  # centred on black
    assert square_mask().sum() == 16 * 16
    assert distance_to_squares(s.x).max().item() == pytest.approx(0.0, abs=1e-7)
    # a half-grey image everywhere is 0.5 away from black outside the square: rms = 0.5 sqrt(768 / 1024)
    half = torch.full((1, 1, 32, 32), 0.5)
    assert distance_to_squares(half).item() == pytest.approx(0.5 * math.sqrt(768 / 1024))
    with pytest.raises(ValueError, match="positive"):
        make_fading_squares(0)
    with pytest.raises(ValueError, match=r"\[N, 1, 32, 32\]"):
        distance_to_squares(torch.zeros(2, 32, 32))


def test_wae_networks_shapes():
    m = wae_mnist_autoencoder(8, filters=64)  # the paper's is 1024 wide; the shapes are the same
    mu, lv = m.encode(torch.rand(4, 1, 28, 28))
    assert mu.shape == lv.shape == (4, 8) and m.decode(mu).shape == (4, 1, 28, 28)
    assert Conv2dSame(1, 1, 4, stride=2)(torch.zeros(1, 1, 7, 7)).shape[-1] == 4  # TensorFlow's SAME: ceil(7 / 2)
    assert squares_autoencoder(2).decode(torch.zeros(3, 2)).shape == (3, 1, 32, 32)
    with pytest.raises(ValueError, match="multiple of 8"):
        wae_mnist_autoencoder(8, filters=100)


def test_convergence_criterion():
    from wisetut.results import convergence

    flat = convergence([10.0, 5.0, 4.0, 3.99, 3.98, 3.97, 3.97, 3.97, 3.96, 3.96])
    assert flat["met"] and flat["window"] == 2 and flat["relative_change"] == pytest.approx(0.01 / 3.97)
    falling = convergence([10.0, 8.0, 6.0, 4.0, 2.0])
    assert not falling["met"] and falling["relative_change"] == pytest.approx(0.5)
    rising = convergence([4.0] * 8 + [4.2, 4.4])  # over-fitting moves the curve too
    assert not rising["met"]
    short = convergence([3.0, 2.95], fraction=0.9)  # the window never reaches past the first value
    assert short["window"] == 1 and short["met"]
    with pytest.raises(ValueError, match="two finite"):
        convergence([1.0])
    with pytest.raises(ValueError, match="two finite"):
        convergence([1.0, float("nan")])


@pytest.mark.parametrize("spread,logvar", [(0.0, 0.0), (0.5, -1.0), (50.0, -6.0)])
def test_form_difference_lies_within_the_log_m_over_m_bound(spread, logvar):
    """Chapter 10: at per-sample weight 1/M the two forms of the prior differ by (I_B - G_B) / M <= log M / M."""
    from wisetut import aevb_kl, wise_kl
    from wisetut.estimators import form_difference

    torch.manual_seed(1)
    m, d = 32, 3
    mu = spread * torch.randn(m, d, dtype=torch.float64)
    lv = torch.full((m, d), logvar, dtype=torch.float64)
    r = form_difference(mu, lv)
    assert r["batch_size"] == m and r["bound"] == pytest.approx(math.log(m) / m)
    assert r["difference"] == pytest.approx((aevb_kl(mu, lv).mean() - wise_kl(mu, lv)).item() / m, rel=1e-12)
    assert r["difference"] <= r["bound"]  # exact: no Monte Carlo in either side
    assert r["mutual_information"] <= math.log(m) + 1e-12
    assert r["jensen_gap"] >= -4 * r["mutual_information_se"]  # Eq. 21 bounds the aggregate KL from above
    assert m * r["difference"] == pytest.approx(r["mutual_information"] - r["jensen_gap"], abs=1e-9)
    # the aggregate KL it implies agrees with the independent Monte Carlo estimate of chapter 2
    agg, se = mc_aggregate_kl_stratified(mu, lv, per_component=1024)
    assert r["aggregate_kl"] == pytest.approx(agg, abs=4 * math.hypot(se, r["mutual_information_se"]) + 1e-9)
    if spread == 0.0:  # identical posteriors: no information, the forms differ by the Jensen gap alone
        assert r["mutual_information"] == pytest.approx(0.0, abs=1e-12)
    if spread == 50.0:  # disjoint narrow ones: I_B = log M, and G_B = d/2 log(e/2), Eq. 21's gap for one Gaussian
        assert r["mutual_information"] == pytest.approx(math.log(m), abs=1e-6)
        assert r["jensen_gap"] == pytest.approx(d / 2 * math.log(math.e / 2), abs=1e-4)


def _pull_setup():
    from wisetut.models import mnist_autoencoder

    torch.manual_seed(0)
    return mnist_autoencoder(3), torch.rand(40, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def test_regulariser_pull_scales_with_the_weight_and_leaves_the_model_alone():
    """Chapter 6's measure of what a penalty does: twice lambda, twice the penalty and its pull; nothing trained."""
    from wisetut.analysis import regulariser_pull
    from wisetut.methods import AEVB, WAEMMD, WiSE
    from wisetut.objectives import aevb_kl, wise_kl_metric

    model, x = _pull_setup()
    before = [p.detach().clone() for p in model.parameters()]
    one, two = (regulariser_pull(model, WAEMMD(lam=lam, deterministic=False), x, 20, seed=3) for lam in (5.0, 10.0))
    assert (
        two["penalty"] == pytest.approx(2 * one["penalty"], rel=1e-5) and one["penalty"] != 0
    )  # an unbiased MMD may be negative
    assert two["grad_penalty"] == pytest.approx(2 * one["grad_penalty"], rel=1e-4)
    assert two["pull"] == pytest.approx(2 * one["pull"], rel=1e-4)
    assert two["grad_recon"] == pytest.approx(one["grad_recon"], rel=1e-6)  # the same draws
    assert regulariser_pull(model, WAEMMD(lam=0.0, deterministic=False), x, 20)["grad_penalty"] == 0.0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(p.grad is None for p in model.parameters())

    # AEVB's penalty is its mean KL; WiSE-ALE's is Eq. 21 over M (the model's means and variances, batch by batch)
    with torch.no_grad():
        mu, logvar = model.encode(x)
    aevb, wise = regulariser_pull(model, AEVB(), x, 20), regulariser_pull(model, WiSE(), x, 20)
    assert aevb["penalty"] == pytest.approx(aevb_kl(mu, logvar).mean().item(), abs=2e-7 * aevb["recon"])
    expected = sum(wise_kl_metric(mu[s : s + 20], logvar[s : s + 20]).item() / 20 for s in (0, 20)) / 2
    assert wise["penalty"] == pytest.approx(expected, abs=2e-7 * wise["recon"])  # the loss less the float32 recon term


def test_regulariser_pull_cost_ratio_compares_the_reconstruction_with_the_official_wae_cost():
    """cost_ratio = |grad BCE| / |grad 0.05 ||x - y||^2| on the encoder, from gradients taken by hand."""
    from wisetut.analysis import regulariser_pull
    from wisetut.methods import AEVB, Forward

    model, x = _pull_setup()
    out = regulariser_pull(model, AEVB(), x, 40, seed=0)
    f = Forward.run(model, x, generator=torch.Generator().manual_seed(0))
    params = list(model.encoder.parameters())

    def norm(t):
        return torch.linalg.vector_norm(
            torch.cat([g.flatten() for g in torch.autograd.grad(t, params, retain_graph=True)])
        ).item()

    bce = norm(f.recon.mean())
    l2 = norm(0.05 * (torch.sigmoid(f.out) - x).square().flatten(1).sum(1).mean())
    assert out["grad_recon"] == pytest.approx(bce, rel=1e-5) and out["grad_l2_cost"] == pytest.approx(l2, rel=1e-5)
    assert out["cost_ratio"] == pytest.approx(bce / l2, rel=1e-5)


def test_grey_level_recovers_each_square_and_clips_what_is_no_square():
    sq = make_fading_squares(50, seed=4)
    assert torch.allclose(grey_level(sq.x), sq.grey, atol=1e-6)
    assert grey_level(torch.ones(2, 1, 32, 32) * 3.0).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="expected images"):
        grey_level(torch.zeros(2, 1, 28, 28))
