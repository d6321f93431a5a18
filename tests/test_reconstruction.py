"""Eq. 15, 16, 17 for a mini-batch: the [M, M] likelihood matrix and the three terms, against plain loops."""

from __future__ import annotations

import math

import pytest
import torch
from resume_helpers import Interrupt, kill_at

from wisetut import wise_kl
from wisetut.data import make_sine_waves
from wisetut.engine import train
from wisetut.estimators import mc_aggregate_kl_reparam, mc_aggregate_kl_stratified
from wisetut.methods import Forward, WiSE, WiSEVariant
from wisetut.models import mnist_autoencoder, sine_autoencoder
from wisetut.reconstruction import eq15_term, eq16_term, eq17_term, pairwise_log_likelihood


def _loop_ll(x, out, likelihood):
    m = len(x)
    ll = torch.empty(m, m, dtype=x.dtype)
    for i in range(m):
        for j in range(m):
            if likelihood == "gaussian":
                ll[i, j] = -((x[j] - out[i]) ** 2).sum()
            else:
                p = torch.sigmoid(out[i])
                ll[i, j] = (x[j] * torch.log(p) + (1 - x[j]) * torch.log1p(-p)).sum()
    return ll


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_pairwise_matrix_matches_a_loop(dtype, likelihood):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(7, 1, 5, 4, generator=g, dtype=dtype)
    out = torch.randn(7, 1, 5, 4, generator=g, dtype=dtype)
    ll = pairwise_log_likelihood(x, out, likelihood, chunk=3)
    ref = _loop_ll(x, out, likelihood)
    tol = dict(rtol=1e-5, atol=1e-4) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-10)
    assert ll.shape == (7, 7) and ll.dtype == dtype
    torch.testing.assert_close(ll, ref, **tol)


def test_diagonal_is_the_models_reconstruction_error():
    torch.manual_seed(0)
    for model, x in ((sine_autoencoder(), make_sine_waves(6).x), (mnist_autoencoder(), torch.rand(6, 1, 28, 28).round())):
        f = Forward.run(model, x)
        ll = pairwise_log_likelihood(f.x, f.out, model.likelihood)
        torch.testing.assert_close(ll.diagonal(), -f.recon, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_three_terms_match_their_definitions(dtype):
    g = torch.Generator().manual_seed(1)
    ll = -50 * torch.rand(6, 6, generator=g, dtype=dtype)
    m = 6
    loop15 = sum(sum(ll[i, j] for j in range(m)) / m for i in range(m))
    loop16 = sum(math.log(sum(math.exp(ll[i, j]) for j in range(m)) / m) for i in range(m))
    loop17 = sum(ll[i, i] for i in range(m)) - m * math.log(m)
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    assert eq15_term(ll).item() == pytest.approx(float(loop15), rel=tol)
    assert eq16_term(ll).item() == pytest.approx(loop16, rel=tol)
    assert eq17_term(ll).item() == pytest.approx(float(loop17), rel=tol)
    assert eq16_term(ll) >= eq15_term(ll)  # Jensen: Eq. 16 bounds Eq. 15 from above
    # far from the diagonal nothing is likely: Eq. 16 -> Eq. 17 (the paper's assumption, exact in the limit)
    sharp = torch.full((m, m), -1e4, dtype=dtype)
    sharp.diagonal().copy_(ll.diagonal())
    assert eq16_term(sharp).item() == pytest.approx(eq17_term(sharp).item(), rel=1e-9)


def test_bad_shapes_are_clear_errors():
    with pytest.raises(ValueError, match=r"square \[M, M\]"):
        eq15_term(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="same shape"):
        pairwise_log_likelihood(torch.zeros(3, 4), torch.zeros(2, 4), "gaussian")
    with pytest.raises(ValueError, match="likelihood"):
        pairwise_log_likelihood(torch.zeros(3, 4), torch.zeros(3, 4), "poisson")
    with pytest.raises(ValueError, match="term"):
        WiSEVariant(term="eq18")
    with pytest.raises(ValueError, match="kl must be"):
        WiSEVariant(kl="exact")
    with pytest.raises(ValueError, match=r"eps must be"):
        mc_aggregate_kl_reparam(torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3, 4, 5))


def test_eq17_objective_is_wise_up_to_a_constant_and_eq15_trains():
    torch.manual_seed(0)
    model = sine_autoencoder()
    method = WiSEVariant("eq17")
    method.configure_model(model)
    f = Forward.run(model, make_sine_waves(16).x)
    assert method.losses(f)["model"].item() == pytest.approx(WiSE().losses(f)["model"].item() + math.log(16), rel=1e-5)
    data = make_sine_waves(128).x
    r = train(sine_autoencoder(), WiSEVariant("eq15"), data, data, epochs=1, batch_size=32, lr=1e-3, progress=False)
    assert math.isfinite(r.test["recon_mse"]) and r.method.hparams()["term"] == "eq15"


def test_held_out_gaps_are_recorded_every_epoch_and_ordered():
    torch.manual_seed(0)
    data = make_sine_waves(128).x
    r = train(
        sine_autoencoder(), WiSEVariant("eq17", gap_batches=2), data, data[:64], epochs=2, batch_size=32, lr=1e-3, progress=False
    )
    t = r.history.test
    assert all(len(t[k]) == 2 for k in ("eq15", "eq16", "eq17", "kl_bound", "kl_true", "kl_gap"))
    assert all(a >= b for a, b in zip(t["eq16"], t["eq15"]))  # Jensen, on held-out batches
    assert all(g > -1e-3 for g in t["kl_gap"])  # Eq. 21 is an upper bound of the true KL


def test_mc_penalty_trains_and_resumes_bit_for_bit(tmp_path):
    data = make_sine_waves(128).x
    kw = dict(epochs=2, batch_size=32, lr=1e-3, seed=3, progress=False)

    def fresh():
        torch.manual_seed(0)
        return sine_autoencoder(), WiSEVariant("eq17", kl="mc", mc_samples=4, gap_batches=1)

    straight = train(*fresh(), data, data[:64], **kw)

    with pytest.raises(Interrupt):
        train(*fresh(), data, data[:64], checkpoint=tmp_path / "c.pt", on_step=kill_at(1, 1), **kw)
    resumed = train(*fresh(), data, data[:64], checkpoint=tmp_path / "c.pt", **kw)
    assert resumed.resumed_from_epoch == 1
    assert straight.history.train == resumed.history.train and straight.history.test == resumed.history.test


def test_mc_kl_penalty_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(2)
    mu = torch.randn(3, 2, generator=g, dtype=torch.float64, requires_grad=True)
    logvar = (0.3 * torch.randn(3, 2, generator=g, dtype=torch.float64)).requires_grad_()
    eps = torch.randn(3, 5, 2, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda m, lv: mc_aggregate_kl_reparam(m, lv, eps), (mu, logvar))


def test_mc_kl_penalty_estimates_the_true_kl_below_the_eq21_bound():
    g = torch.Generator().manual_seed(3)
    mu = 2 * torch.randn(8, 3, generator=g, dtype=torch.float64)
    logvar = -1 + 0.2 * torch.randn(8, 3, generator=g, dtype=torch.float64)
    est = mc_aggregate_kl_reparam(mu, logvar, torch.randn(8, 4000, 3, generator=g, dtype=torch.float64)).item()
    ref, se = mc_aggregate_kl_stratified(mu, logvar, per_component=4000, generator=g)
    assert est == pytest.approx(ref, abs=6 * se + 0.02)
    assert est < wise_kl(mu, logvar).item()


def test_mc_kl_penalty_is_finite_for_point_like_posteriors():
    # trained posteriors can reach logvar of -85 or less, where exp(-logvar) overflows float32
    g = torch.Generator().manual_seed(4)
    mu = torch.randn(16, 4, generator=g).requires_grad_()
    logvar = torch.full((16, 4), -95.0).requires_grad_()
    kl = mc_aggregate_kl_reparam(mu, logvar, torch.randn(16, 8, 4, generator=g))
    kl.backward()
    assert torch.isfinite(kl) and torch.isfinite(mu.grad).all() and torch.isfinite(logvar.grad).all()
    # far-apart point-like posteriors: the aggregate's KL is its components' mean KL minus log M
    exact = (0.5 * (mu.detach() ** 2 + logvar.detach().exp() - 1 - logvar.detach()).sum(1)).mean() - math.log(16)
    assert kl.item() == pytest.approx(exact.item(), rel=1e-3)


def test_reconstruct_all_is_the_batched_z_mu_reconstruction_the_engine_scores():
    from wisetut.engine import evaluate
    from wisetut.reconstruction import reconstruct_all

    torch.manual_seed(0)
    model, x = sine_autoencoder(4), make_sine_waves(300, seed=1).x
    model.train()
    x_hat = reconstruct_all(model, x, batch_size=128)
    assert x_hat.shape == x.shape and model.training  # its mode is restored
    mu, _ = model.eval().encode(x)
    assert torch.allclose(x_hat, model.mean_output(model.decode(mu)), rtol=1e-5, atol=1e-6)
    errors = (x_hat - x).square().flatten(1).sum(1)
    assert math.isclose(errors.mean().item(), evaluate(model, x, batch_size=128)["recon_mse"], rel_tol=1e-5)


def test_variant_takes_the_float_guard_in_its_penalty_only():
    """Chapter 11 sets logvar_floor on every variant: the identity above the floor, and where Eq. 21's variances
    underflow, finite with it (the floored value) and without it (wise_kl's log-space path), and different."""
    import torch

    from wisetut.methods import Forward, WiSEVariant
    from wisetut.models import sine_autoencoder

    torch.manual_seed(0)
    model = sine_autoencoder(4)
    f = Forward.run(model, torch.randn(16, 1, 256))
    for kw in (dict(term="eq17", kl="eq21"), dict(term="eq15", kl="eq21")):
        plain, guarded = WiSEVariant(**kw), WiSEVariant(**kw, logvar_floor=-30.0)
        plain.configure_model(model)
        guarded.configure_model(model)
        assert torch.equal(plain.losses(f)["model"], guarded.losses(f)["model"])
        assert "logvar_floor" not in plain.hparams() and guarded.hparams()["logvar_floor"] == -30.0
    logvar = f.logvar.detach().clone()
    logvar[2] = -120.0
    low = Forward(f.x, f.mu.detach(), logvar, f.z.detach(), f.out.detach(), f.recon.detach())
    assert torch.isfinite(plain.losses(low)["model"]) and torch.isfinite(guarded.losses(low)["model"])
    assert plain.losses(low)["model"] != guarded.losses(low)["model"]
