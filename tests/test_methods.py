"""Methods as objectives, models of Appendix D, and the data generators."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from wisetut import aevb_kl, wise_kl
from wisetut.data import make_sine_waves
from wisetut.engine import train
from wisetut.methods import AEVB, IMQ_SCALES, WAEMMD, BetaVAE, Forward, Method, WiSE, imq_mmd
from wisetut.models import mnist_autoencoder, sine_autoencoder


def _forward(m=16, seed=0):
    torch.manual_seed(seed)
    model = sine_autoencoder()
    return model, Forward.run(model, make_sine_waves(m, seed=seed).x)


def test_wise_loss_is_eq27_per_sample():
    _, f = _forward()
    m = f.x.shape[0]
    expected = (f.recon.sum() + wise_kl(f.mu, f.logvar)) / m
    assert WiSE().losses(f)["model"].item() == pytest.approx(expected.item(), rel=1e-6)
    # the prior's weight per sample is kl_weight / M: doubling the weight adds KL_UB / M
    doubled = WiSE(kl_weight=2.0).losses(f)["model"].item()
    assert doubled - expected.item() == pytest.approx(wise_kl(f.mu, f.logvar).item() / m, abs=1e-4)  # float32 difference of ~170s


def test_aevb_and_beta_vae_losses():
    _, f = _forward()
    aevb = (f.recon + aevb_kl(f.mu, f.logvar)).mean().item()
    assert AEVB().losses(f)["model"].item() == pytest.approx(aevb, rel=1e-6)
    beta = BetaVAE(4.0).losses(f)["model"].item()
    assert beta - aevb == pytest.approx(3.0 * aevb_kl(f.mu, f.logvar).mean().item(), abs=1e-4)
    with pytest.raises(ValueError, match="beta"):
        BetaVAE(0.0)


def test_imq_mmd_separates_distributions():
    g = torch.Generator().manual_seed(0)
    same = [imq_mmd(torch.randn(200, 2, generator=g), torch.randn(200, 2, generator=g)).item() for _ in range(5)]
    shifted = imq_mmd(torch.randn(200, 2, generator=g) + 2.0, torch.randn(200, 2, generator=g)).item()
    assert abs(sum(same) / 5) < 0.01  # unbiased: about zero for equal distributions
    assert shifted > 0.1
    with pytest.raises(ValueError, match=r"\[batch, latent\]"):
        imq_mmd(torch.zeros(4, 2), torch.zeros(5, 2))


def test_imq_mmd_by_blocks_equals_the_whole_kernel_matrix():
    """Large samples sum the kernel a block of rows at a time: the same U-statistic, and the same gradient."""
    g = torch.Generator().manual_seed(1)
    z = (0.5 * torch.randn(300, 3, generator=g, dtype=torch.float64) + 0.3).requires_grad_(True)
    p = torch.randn(300, 3, generator=g, dtype=torch.float64)
    whole = imq_mmd(z, p)  # 600 rows <= MMD_BLOCK: one matrix
    (g_whole,) = torch.autograd.grad(whole, z)
    for block in (1, 7, 128, 599):  # 600 rows > block: by blocks, the last one short
        blocked = imq_mmd(z, p, block=block)
        (g_blocked,) = torch.autograd.grad(blocked, z)
        assert blocked.item() == pytest.approx(whole.item(), rel=1e-12)
        assert torch.allclose(g_blocked, g_whole, rtol=1e-10, atol=1e-16)
    # and against the definition, term by term
    k = lambda a, b: sum(c / (c + ((a[:, None] - b[None]) ** 2).sum(-1)) for c in (2.0 * 3 * s for s in IMQ_SCALES))
    m, zd = 300, z.detach()
    off = ~torch.eye(m, dtype=torch.bool)
    direct = (k(zd, zd)[off].sum() + k(p, p)[off].sum()) / (m * (m - 1)) - 2 * k(zd, p).mean()
    assert imq_mmd(zd, p, block=64).item() == pytest.approx(direct.item(), rel=1e-12)  # in place: no gradient
    with torch.no_grad():
        assert imq_mmd(z, p, block=64).item() == pytest.approx(direct.item(), rel=1e-12)
    with pytest.raises(ValueError, match="block must be at least 1, got 0"):
        imq_mmd(zd, p, block=0)


@pytest.mark.parametrize("prior_var", [0.0, -1.0, float("nan"), float("inf")])
def test_imq_mmd_needs_a_positive_prior_variance(prior_var):
    # with prior_var 0 every kernel term is 0/0 (NaN); below 0 the kernel is not positive definite
    with pytest.raises(ValueError, match="prior_var must be a positive finite variance"):
        imq_mmd(torch.randn(8, 2), torch.randn(8, 2), prior_var=prior_var)
    with pytest.raises(ValueError, match="scales"):
        imq_mmd(torch.randn(8, 2), torch.randn(8, 2), scales=(1.0, -0.5))


def test_wae_mmd_loss_uses_lambda():
    _, f = _forward()
    torch.manual_seed(1)
    a = WAEMMD(lam=0.0).losses(f)["model"].item()
    assert a == pytest.approx(f.recon.mean().item(), rel=1e-6)


class _TwoGroup(Method):
    """A toy adversarial method: a critic on z with its own optimiser, as WAE-GAN will need."""

    name = "two_group"
    NOT_HPARAMS = ("latent_dim",)  # the critic's size: its weights' shapes fingerprint it

    def __init__(self, latent_dim):
        super().__init__()
        self.critic = nn.Linear(latent_dim, 1)

    def parameter_groups(self, model):
        return {"critic": list(self.critic.parameters()), "model": list(model.parameters())}

    def losses(self, f):
        critic_loss = self.critic(f.z.detach()).square().mean()
        return {"critic": critic_loss, "model": f.recon.mean() - 0.1 * self.critic(f.z).mean()}


def test_engine_runs_a_second_optimiser_in_the_same_loop(tmp_path):
    torch.manual_seed(0)
    model, method = sine_autoencoder(), _TwoGroup(4)
    before = method.critic.weight.detach().clone()
    data = make_sine_waves(64, seed=0).x
    r = train(model, method, data, data, epochs=1, batch_size=16, lr=1e-3, progress=False, checkpoint=tmp_path / "c.pt")
    assert not torch.equal(before, method.critic.weight)
    assert r.history.epochs == 1
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    assert set(state["optimizers"]) == {"critic", "model"} and "critic.weight" in state["method"]


def test_models_shapes():
    x = make_sine_waves(3).x
    m = sine_autoencoder()
    mu, logvar = m.encode(x)
    assert mu.shape == logvar.shape == (3, 4)
    assert m.decode(mu).shape == (3, 1, 256)
    d = mnist_autoencoder()
    mu, _ = d.encode(torch.rand(3, 1, 28, 28))
    assert mu.shape == (3, 2) and d.reconstruct(torch.rand(3, 1, 28, 28)).shape == (3, 1, 28, 28)
    with pytest.raises(ValueError, match=r"\[batch, 1, 28, 28\]"):
        d.encode(torch.rand(3, 784))


def test_sine_waves_follow_section_5():
    s = make_sine_waves(20_000, seed=0)
    assert s.x.shape == (20_000, 1, 256) and s.x.dtype == torch.float32
    assert 0 <= s.frequency.min() and s.frequency.max() <= 20
    assert 0 <= s.amplitude.min() and s.amplitude.max() <= 2
    assert 0 <= s.phase.min() and s.phase.max() <= 2 * math.pi
    assert s.frequency.mean().item() == pytest.approx(10, abs=0.2)
    # the clean wave plus N(0, 0.05^2) noise: the residual has the noise's variance
    t = torch.arange(256) / 256
    clean = s.amplitude[:, None] * torch.sin(2 * math.pi * s.frequency[:, None] * t + s.phase[:, None])
    assert (s.x[:, 0] - clean).std().item() == pytest.approx(0.05, rel=0.02)
    assert torch.equal(make_sine_waves(5, seed=3).x, make_sine_waves(5, seed=3).x)
    with pytest.raises(ValueError, match="positive"):
        make_sine_waves(0)


def test_bhattacharyya_closed_form_and_summary():
    from scipy import integrate, stats

    from wisetut.latent import latent_summary, log_bhattacharyya

    a, va, b, vb = 0.3, 0.5, -0.4, 2.0
    numeric, _ = integrate.quad(
        lambda z: math.sqrt(stats.norm.pdf(z, a, math.sqrt(va)) * stats.norm.pdf(z, b, math.sqrt(vb))), -30, 30
    )
    t = lambda v: torch.tensor([[v]], dtype=torch.float64)  # noqa: E731
    assert log_bhattacharyya(t(a), t(math.log(va)), t(b), t(math.log(vb))).exp().item() == pytest.approx(numeric, rel=1e-8)
    # identical posteriors overlap fully; far-apart narrow ones not at all
    assert log_bhattacharyya(t(a), t(0.0), t(a), t(0.0)).item() == pytest.approx(0.0, abs=1e-12)
    mu = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    s = latent_summary(mu, torch.full((3, 2), -6.0), n_samples=2_000)
    assert s["nn_bhattacharyya"] < 1e-6 and s["nn_distance"] == pytest.approx(10.0)
    assert s["scale"] == pytest.approx(math.exp(-3.0), rel=1e-6)


def test_active_units_and_measure_latents():
    from wisetut.latent import active_units, measure_latents
    from wisetut.models import mnist_autoencoder

    g = torch.Generator().manual_seed(0)
    mu = torch.cat([torch.randn(500, 2, generator=g), torch.full((500, 1), 0.3), 0.01 * torch.randn(500, 1, generator=g)], 1)
    assert active_units(mu) == 2  # a constant and a barely-moving dimension are inactive
    with pytest.raises(ValueError, match="shape"):
        active_units(mu[:1])

    torch.manual_seed(0)
    model = mnist_autoencoder(2)
    x = torch.rand(40, 1, 28, 28, generator=g)
    y = torch.arange(40) % 2
    out = measure_latents(model, x[:20], x_train=x[20:], y_train=y[20:], y_test=y[:20], n_samples=500)
    assert set(out) >= {"scale", "nn_bhattacharyya", "aggregate_kl", "active_units", "knn_accuracy"}
    assert 0.0 <= out["knn_accuracy"] <= 1.0 and 0 <= out["active_units"] <= 2
    assert "knn_accuracy" not in measure_latents(model, x[:20], n_samples=500)
    from wisetut.latent import compactness, encode_all

    with_gaps = measure_latents(model, x[:20], n_samples=500, gaps=True)
    mu, logvar = encode_all(model, x[:20])
    c = compactness(mu, logvar, seed=0)
    assert with_gaps["uncovered_share"] == c["uncovered_share"] and with_gaps["median_gap_sigma"] == c["median_gap_sigma"]
    assert with_gaps["min_logvar"] == logvar.min().item() and "uncovered_share" not in out
    with pytest.raises(ValueError, match="x_train"):
        measure_latents(model, x[:20], y_test=y[:20])


def test_wise_logvar_floor_keeps_eq27_finite_and_changes_nothing_above_it():
    from wisetut.methods import Forward, WiSE
    from wisetut.models import sine_autoencoder

    torch.manual_seed(0)
    model = sine_autoencoder(4)
    x = torch.randn(16, 1, 256)
    f = Forward.run(model, x)
    # above the floor: the same loss as Eq. 27 without it, and the fingerprint is unchanged without it
    assert torch.equal(WiSE().losses(f)["model"], WiSE(logvar_floor=-30.0).losses(f)["model"])
    assert WiSE().hparams() == {"kl_weight": 1.0} and WiSE(logvar_floor=-30.0).hparams()["logvar_floor"] == -30.0
    # a posterior that has shrunk below float32's range: finite without the floor (wise_kl's log-space
    # path, the float64 value) and with it (the floored value), gradients included
    logvar = f.logvar.detach().clone()
    logvar[3] = -120.0
    logvar.requires_grad_(True)
    collapsed = Forward(f.x, f.mu.detach(), logvar, f.z.detach(), f.out.detach(), f.recon.detach())
    plain = WiSE().losses(collapsed)["model"]
    assert torch.isfinite(plain)
    as64 = Forward(
        f.x.double(),
        f.mu.detach().double(),
        logvar.detach().double(),
        f.z.detach().double(),
        f.out.detach().double(),
        f.recon.detach().double(),
    )
    torch.testing.assert_close(plain.double(), WiSE().losses(as64)["model"], rtol=1e-6, atol=1e-6)
    loss = WiSE(logvar_floor=-30.0).losses(collapsed)["model"]
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logvar.grad).all()
    with pytest.raises(ValueError, match="logvar_floor"):
        WiSE(logvar_floor=-200.0)


def test_hparams_are_read_from_the_constructor_and_keep_every_stored_fingerprint():
    """The generic hparams() gives exactly the dicts the hand-written ones gave (fingerprints use them)."""
    from wisetut.methods import AEVB, WAEGAN, WAEMMD, BetaVAE, NonparametricVAE, WiSE, WiSEVariant

    gan = {
        "lam": 10.0,
        "deterministic": True,
        "hidden": 512,
        "layers": 4,
        "lr_adv": 0.0005,
        "adv_beta1": 0.5,
        "prior_trick": False,
        "ae_beta1": 0.5,
    }
    cases = [
        (AEVB(), {}),
        (BetaVAE(beta=1.5), {"beta": 1.5}),
        (WiSE(), {"kl_weight": 1.0}),  # no floor: not in the fingerprint, as before it existed
        (WiSE(kl_weight=64, logvar_floor=-30), {"kl_weight": 64.0, "logvar_floor": -30.0}),
        (WAEMMD(lam=1.0, deterministic=False), {"lam": 1.0, "deterministic": False}),
        (WAEGAN(), gan),
        (WAEGAN(ae_beta1=0.9, prior_trick=True), gan | {"ae_beta1": 0.9, "prior_trick": True}),
        (
            NonparametricVAE(x_dim=10, hidden=(64,), match_weight=2.0),
            {"x_dim": 10, "hidden": [64], "dropout": 0.1, "match_weight": 2.0},
        ),
        (
            WiSEVariant(term="eq15", kl="mc", kl_weight=0.5, mc_samples=4, gap_batches=0),
            {"term": "eq15", "kl": "mc", "kl_weight": 0.5, "mc_samples": 4},
        ),
    ]
    for method, expected in cases:
        got = method.hparams()
        assert got == expected and list(got) == list(expected), (method, got)
        assert repr(sorted(got.items())) == repr(sorted(expected.items()))  # what the fingerprint stores
    assert repr(WAEGAN(ae_beta1=0.9)).startswith("WAEGAN(lam=10.0, deterministic=True, hidden=512")

    class Forgetful(Method):
        def __init__(self, width):
            super().__init__()

    with pytest.raises(AttributeError, match="keeps no attribute 'width'.*NOT_HPARAMS"):
        Forgetful(3).hparams()


def test_aevb_and_beta_vae_take_the_same_float_guard_as_wise():
    """Chapter 10 sets logvar_floor on every cell of its 2 x 2: above the floor it changes nothing, values or gradients."""
    torch.manual_seed(0)
    model = sine_autoencoder(4)
    f = Forward.run(model, torch.randn(16, 1, 256))
    for plain, floored in ((AEVB(), AEVB(logvar_floor=-30.0)), (BetaVAE(0.25), BetaVAE(0.25, logvar_floor=-30.0))):
        assert torch.equal(plain.losses(f)["model"], floored.losses(f)["model"])
        g_plain = torch.autograd.grad(plain.losses(f)["model"], f.logvar, retain_graph=True)[0]
        g_floor = torch.autograd.grad(floored.losses(f)["model"], f.logvar, retain_graph=True)[0]
        assert torch.equal(g_plain, g_floor)
    assert AEVB(logvar_floor=-30).hparams() == {"logvar_floor": -30.0}
    assert BetaVAE(2.0, logvar_floor=-30).hparams() == {"beta": 2.0, "logvar_floor": -30.0}
    # below it, the KL term sees the floor and passes no gradient to the floored log-variances
    logvar = f.logvar.detach().clone()
    logvar[0] = -50.0
    logvar.requires_grad_(True)
    low = Forward(f.x, f.mu.detach(), logvar, f.z.detach(), f.out.detach(), f.recon.detach())
    kl = AEVB(logvar_floor=-30.0).kl(low)
    assert kl[0].item() == pytest.approx(aevb_kl(low.mu[:1], torch.full_like(logvar[:1], -30.0)).item(), rel=1e-6)
    kl.sum().backward()
    assert (logvar.grad[0] == 0).all() and (logvar.grad[1:] != 0).all()
    for bad in (AEVB, BetaVAE):
        with pytest.raises(ValueError, match="logvar_floor"):
            bad(logvar_floor=1.0) if bad is AEVB else bad(2.0, logvar_floor=-100.0)


def test_objective_scores_a_model_under_any_method():
    from wisetut.analysis import objective

    torch.manual_seed(0)
    model = sine_autoencoder(4)
    x = make_sine_waves(64 * 3 + 5, seed=0).x
    aevb, beta = objective(model, AEVB(), x, 64), objective(model, BetaVAE(1 / 64), x, 64)
    assert objective(model, AEVB(), x, 64) == aevb  # fixed noise: the same number twice
    assert beta < aevb  # a weaker prior term, the same reconstructions
    with torch.no_grad():  # by hand: the three full batches, the 5 left over are not used
        gen = torch.Generator().manual_seed(0)
        by_hand = sum(WiSE().losses(Forward.run(model, x[i : i + 64], generator=gen))["model"].item() for i in (0, 64, 128)) / 3
    assert objective(model, WiSE(), x, 64) == pytest.approx(by_hand, rel=1e-6)
    with pytest.raises(ValueError, match="batch_size"):
        objective(model, WiSE(), x[:10], 64)
