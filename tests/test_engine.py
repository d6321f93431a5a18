"""The training engine: reproducible, resumable, and strict about checkpoints."""

from __future__ import annotations

import pytest
import torch
from resume_helpers import Interrupt, assert_same_state, kill_at

from wisetut.data import make_sine_waves
from wisetut.engine import CheckpointError, train
from wisetut.methods import METHODS, make_method
from wisetut.models import sine_autoencoder

TRAIN = make_sine_waves(192, seed=0).x
TEST = make_sine_waves(64, seed=1).x
KW = dict(epochs=3, batch_size=32, lr=1e-3, seed=5, progress=False, device="cpu")


def _fresh(method="wise"):
    torch.manual_seed(0)
    return sine_autoencoder(), make_method(method)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_same_seed_same_numbers(method):
    a = train(*_fresh(method), TRAIN, TEST, **KW)
    b = train(*_fresh(method), TRAIN, TEST, **KW)
    assert_same_state(a.model, b.model)
    assert a.history.train == b.history.train and a.history.test == b.history.test
    c = train(*_fresh(method), TRAIN, TEST, **{**KW, "seed": 6})
    assert a.history.train["loss"] != c.history.train["loss"]


@pytest.mark.parametrize("kill_epoch,kill_step", [(0, 2), (1, 0), (2, 4)])
def test_resume_after_kill_equals_uninterrupted(tmp_path, kill_epoch, kill_step):
    straight = train(*_fresh(), TRAIN, TEST, **KW)
    ckpt = tmp_path / "run.pt"
    with pytest.raises(Interrupt):
        train(*_fresh(), TRAIN, TEST, checkpoint=ckpt, on_step=kill_at(kill_epoch, kill_step), **KW)
    assert ckpt.exists() == (kill_epoch > 0)
    resumed = train(*_fresh(), TRAIN, TEST, checkpoint=ckpt, **KW)
    assert resumed.resumed_from_epoch == kill_epoch
    assert_same_state(straight.model, resumed.model)
    assert straight.history.train == resumed.history.train
    assert straight.history.test == resumed.history.test


def test_finished_checkpoint_loads_without_training(tmp_path):
    ckpt = tmp_path / "run.pt"
    first = train(*_fresh(), TRAIN, TEST, checkpoint=ckpt, **KW)
    calls = []
    again = train(*_fresh(), TRAIN, TEST, checkpoint=ckpt, on_step=lambda e, s: calls.append(s), **KW)
    assert calls == [] and again.resumed_from_epoch == KW["epochs"]
    assert_same_state(first.model, again.model)
    assert again.test == first.test


def test_checkpoint_loads_with_weights_only(tmp_path):
    ckpt = tmp_path / "run.pt"
    train(*_fresh(), TRAIN, TEST, checkpoint=ckpt, **{**KW, "epochs": 1})
    state = torch.load(ckpt, weights_only=True)
    assert state["epoch"] == 1 and "model" in state


def test_corrupt_checkpoint_is_an_error_and_kept(tmp_path):
    ckpt = tmp_path / "run.pt"
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        train(*_fresh(), TRAIN, TEST, checkpoint=ckpt, **KW)
    assert ckpt.read_bytes() == b"not a checkpoint"


@pytest.mark.parametrize(
    "change,match",
    [
        ({"lr": 5e-4}, "lr"),
        ({"seed": 9}, "seed"),
        ({"batch_size": 16}, "batch_size"),
    ],
)
def test_mismatched_checkpoint_is_an_error_and_kept(tmp_path, change, match):
    ckpt = tmp_path / "run.pt"
    train(*_fresh(), TRAIN, TEST, checkpoint=ckpt, **{**KW, "epochs": 1})
    before = ckpt.read_bytes()
    with pytest.raises(CheckpointError, match=match):
        train(*_fresh(), TRAIN, TEST, checkpoint=ckpt, **{**KW, **change})
    assert ckpt.read_bytes() == before


def test_checkpoint_of_another_method_or_data_is_an_error(tmp_path):
    ckpt = tmp_path / "run.pt"
    train(*_fresh("wise"), TRAIN, TEST, checkpoint=ckpt, **{**KW, "epochs": 1})
    with pytest.raises(CheckpointError, match="method"):
        train(*_fresh("aevb"), TRAIN, TEST, checkpoint=ckpt, **KW)
    with pytest.raises(CheckpointError, match="data"):
        train(*_fresh("wise"), make_sine_waves(192, seed=3).x, TEST, checkpoint=ckpt, **KW)
    with pytest.raises(CheckpointError, match="hparams"):
        train(sine_autoencoder(), make_method("wise", kl_weight=2.0), TRAIN, TEST, checkpoint=ckpt, **KW)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match=r"\[batch, 1, 256\]"):
        train(*_fresh(), TRAIN.squeeze(1), TEST, **KW)
    with pytest.raises(ValueError, match="fewer than one batch"):
        train(*_fresh(), TRAIN[:8], TEST, **KW)
    with pytest.raises(ValueError, match="epochs"):
        train(*_fresh(), TRAIN, TEST, **{**KW, "epochs": 0})
    with pytest.raises(ValueError, match="unknown method"):
        make_method("vae")


def test_history_and_summary_are_finite():
    r = train(*_fresh(), TRAIN, TEST, **KW)
    assert r.history.epochs == KW["epochs"]
    for row in (r.history.train, r.history.test):
        for values in row.values():
            assert len(values) == KW["epochs"] and all(v == v and abs(v) < float("inf") for v in values)
    s = r.summary()
    assert set(s) >= {"test_recon_mse", "test_elbo", "test_aevb_kl", "test_wise_kl", "train_seconds"}
    assert s["test_elbo"] == pytest.approx(-(r.test["recon"] + r.test["aevb_kl"]))


def test_eq21_metric_survives_collapsing_posteriors():
    # a posterior variance below float32's range must not turn the engine's Eq. 21 metric into NaN
    from wisetut.objectives import METRIC_LOGVAR_FLOOR, wise_kl, wise_kl_naive

    mu, logvar = torch.randn(8, 4), torch.full((8, 4), -120.0)
    assert not torch.isfinite(wise_kl_naive(mu, logvar))  # Eq. 21 from variances fails here...
    assert torch.isfinite(wise_kl(mu, logvar))  # ...wise_kl takes its log-space path...
    assert torch.isfinite(wise_kl(mu, logvar.clamp_min(METRIC_LOGVAR_FLOOR)))  # ...and the engine's metric is finite
    normal = torch.randn(8, 4)
    assert torch.equal(wise_kl(mu, normal), wise_kl(mu, normal.clamp_min(METRIC_LOGVAR_FLOOR)))


def test_eval_mode_restores_each_modules_mode_even_on_error():
    from torch import nn

    from wisetut.models import eval_mode

    a, b = nn.Dropout(0.5), nn.Dropout(0.5)
    b.eval()
    with pytest.raises(ZeroDivisionError):
        with eval_mode(a, b):
            assert not a.training and not b.training
            raise ZeroDivisionError
    assert a.training and not b.training


def test_fused_adam_is_adam_to_rounding_and_a_checkpoint_keeps_its_implementation():
    from wisetut.engine import make_adam

    torch.manual_seed(0)
    nets = [sine_autoencoder() for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    opts = [torch.optim.Adam(nets[0].parameters(), lr=1e-3), make_adam(nets[1].parameters(), lr=1e-3)]
    assert opts[1].defaults["fused"] is True
    gen = torch.Generator().manual_seed(1)
    for _ in range(50):
        grads = [torch.randn(p.shape, generator=gen) for p in nets[0].parameters()]
        for net, opt in zip(nets, opts):
            for p, g in zip(net.parameters(), grads):
                p.grad = g.clone()
            opt.step()
    diff = max((a - b).abs().max().item() for a, b in zip(nets[0].parameters(), nets[1].parameters()))
    moved = max((a - b).abs().max().item() for a, b in zip(nets[0].parameters(), sine_autoencoder().parameters()))
    assert 0 < diff < 1e-6 < moved  # not bit-equal, equal to float rounding, and the steps did move the weights
    # a checkpoint of the for-loop Adam resumes with the for-loop Adam (a resumed run repeats exactly)
    resumed = make_adam(nets[0].parameters(), lr=1e-3)
    resumed.load_state_dict(opts[0].state_dict())
    assert resumed.param_groups[0]["fused"] is None
