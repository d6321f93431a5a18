"""WAE-GAN: two parameter groups in one engine, no gradient leaking between them, exact resume."""

from __future__ import annotations

import math

import pytest
import torch
from resume_helpers import Interrupt, assert_same_state, kill_at

from wisetut.data import make_sine_waves
from wisetut.engine import CheckpointError, train
from wisetut.methods import WAEGAN
from wisetut.models import mnist_autoencoder, sine_autoencoder

TRAIN = make_sine_waves(192, seed=0).x
TEST = make_sine_waves(64, seed=1).x
KW = dict(epochs=3, batch_size=32, lr=1e-3, seed=5, progress=False, device="cpu")


class SpyWAEGAN(WAEGAN):
    """Records, at every step, the gradient each group's own loss gives it (before the engine's backward)."""

    def configure_model(self, model):
        super().configure_model(model)
        self.model_params = list(model.parameters())
        self.expected = []

    def losses(self, f):
        out = super().losses(f)
        adv_params = list(self.adversary.parameters())
        g_model = torch.autograd.grad(out["model"], self.model_params, retain_graph=True)
        g_adv = torch.autograd.grad(out["adversary"], adv_params, retain_graph=True)
        self.expected.append((g_model, g_adv))
        return out


def _fresh(**hp):
    torch.manual_seed(0)
    return sine_autoencoder(), WAEGAN(**{"hidden": 32, "layers": 2, **hp})


def test_both_groups_train_and_no_gradient_leaks():
    torch.manual_seed(0)
    model, method = sine_autoencoder(), SpyWAEGAN(hidden=32, layers=2)
    method.configure_model(model)
    model_before = [p.detach().clone() for p in model.parameters()]
    adv_before = [p.detach().clone() for p in method.adversary.parameters()]
    seen = []

    def check(epoch, step):
        g_model, g_adv = method.expected[-1]
        # after the engine's step, each parameter's .grad is what *its own group's* loss gave it
        for p, g in zip(model.parameters(), g_model):
            assert torch.allclose(p.grad, g, rtol=1e-5, atol=1e-7)
        for p, g in zip(method.adversary.parameters(), g_adv):
            assert torch.allclose(p.grad, g, rtol=1e-5, atol=1e-7)
        seen.append(step)

    train(model, method, TRAIN, TEST, **{**KW, "epochs": 1}, on_step=check)
    assert seen == list(range(len(TRAIN) // KW["batch_size"]))
    assert all(not torch.equal(a, b) for a, b in zip(model_before, model.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(adv_before, method.adversary.parameters()))


def test_adversary_has_its_own_optimiser_settings(tmp_path):
    model, method = _fresh(lr_adv=2e-4, adv_beta1=0.5)
    train(model, method, TRAIN, TEST, **{**KW, "epochs": 1}, checkpoint=tmp_path / "c.pt")
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    adv_group = state["optimizers"]["adversary"]["param_groups"][0]
    model_group = state["optimizers"]["model"]["param_groups"][0]
    assert adv_group["lr"] == 2e-4 and tuple(adv_group["betas"]) == (0.5, 0.999)
    assert model_group["lr"] == KW["lr"] and tuple(model_group["betas"]) == (0.5, 0.999)  # the official code's
    assert any(k.startswith("adversary.") for k in state["method"])


@pytest.mark.parametrize("kill_epoch,kill_step", [(0, 3), (1, 2), (2, 0)])
def test_resume_after_kill_is_bit_for_bit(tmp_path, kill_epoch, kill_step):
    straight_model, straight_method = _fresh()
    straight = train(straight_model, straight_method, TRAIN, TEST, **KW)
    ckpt = tmp_path / "run.pt"

    with pytest.raises(Interrupt):
        train(*_fresh(), TRAIN, TEST, checkpoint=ckpt, on_step=kill_at(kill_epoch, kill_step), **KW)
    model, method = _fresh()
    resumed = train(model, method, TRAIN, TEST, checkpoint=ckpt, **KW)
    assert resumed.resumed_from_epoch == kill_epoch
    assert_same_state(straight.model, model)
    assert_same_state(straight_method, method)
    assert straight.history.train == resumed.history.train and straight.history.test == resumed.history.test


@pytest.mark.parametrize(
    "change", [{"lr_adv": 1e-3}, {"adv_beta1": 0.9}, {"ae_beta1": 0.9}, {"hidden": 16}, {"lam": 1.0}, {"prior_trick": True}]
)
def test_checkpoint_fingerprint_includes_the_adversary(tmp_path, change):
    ckpt = tmp_path / "run.pt"
    train(*_fresh(), TRAIN, TEST, checkpoint=ckpt, **{**KW, "epochs": 1})
    before = ckpt.read_bytes()
    with pytest.raises(CheckpointError, match="hparams"):
        train(*_fresh(**change), TRAIN, TEST, checkpoint=ckpt, **KW)
    assert ckpt.read_bytes() == before


def test_deterministic_by_default_and_gaussian_as_an_option():
    model = mnist_autoencoder(8)
    WAEGAN().configure_model(model)
    assert model.fixed_logvar == WAEGAN.POINT_LOGVAR
    WAEGAN(deterministic=False).configure_model(model)
    assert model.fixed_logvar is None and WAEGAN().adversary is None


def test_prior_trick_adds_the_log_prior_to_the_logit():
    model = mnist_autoencoder(3)
    plain, trick = WAEGAN(hidden=8, layers=1), WAEGAN(hidden=8, layers=1, prior_trick=True)
    plain.configure_model(model)
    trick.configure_model(model)
    trick.adversary.load_state_dict(plain.adversary.state_dict())
    z = torch.randn(5, 3)
    log_prior = -0.5 * (z.square().sum(1) + 3 * math.log(2 * math.pi))
    assert torch.allclose(trick.logits(z), plain.logits(z) + log_prior, atol=1e-6)


def test_bad_settings_are_clear_errors():
    for bad in ({"hidden": 0}, {"layers": 0}, {"lr_adv": 0.0}, {"adv_beta1": 1.0}, {"ae_beta1": -0.1}):
        with pytest.raises(ValueError, match="hidden >= 1"):
            WAEGAN(**bad)
    with pytest.raises(ValueError, match="lam"):
        WAEGAN(lam=-1.0)
    with pytest.raises(RuntimeError, match="configure_model"):
        WAEGAN().logits(torch.zeros(2, 2))
