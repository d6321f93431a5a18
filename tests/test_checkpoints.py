"""Checkpoints and inputs a reader can trust (issue 18): no silent reuse, no silent corruption, no late failure."""

from __future__ import annotations

import zipfile

import pytest
import torch
from resume_helpers import flip_a_bit_inside_the_largest_tensor
from torch import nn

from wisetut.data import make_sine_waves
from wisetut.engine import CheckpointError, check_data, evaluate, train
from wisetut.methods import NonparametricVAE, make_method
from wisetut.models import mlp_autoencoder, sine_autoencoder

TRAIN = make_sine_waves(64, seed=0).x
TEST = make_sine_waves(32, seed=1).x
KW = dict(epochs=2, batch_size=16, lr=1e-3, seed=5, progress=False, device="cpu")

DIGITS = torch.rand(48, 1, 4, 4, generator=torch.Generator().manual_seed(0))
DIGITS_TEST = torch.rand(16, 1, 4, 4, generator=torch.Generator().manual_seed(1))


def _fresh(method="wise", **hparams):
    torch.manual_seed(0)
    return sine_autoencoder(), make_method(method, **hparams)


def _digits(dropout=0.1, activation=None):
    """Kingma & Welling's MLP on 4x4 'digits'; ``activation`` replaces every hidden tanh (same shapes)."""
    torch.manual_seed(0)
    model = mlp_autoencoder(2, hidden=(8,), dropout=dropout, data_shape=(1, 4, 4))
    if activation is not None:
        for seq in (model.encoder[1], model.decoder):
            for i, m in enumerate(seq):
                if isinstance(m, nn.Tanh):
                    seq[i] = activation()
    return model


def _snapshot(*modules):
    return [p.detach().clone() for m in modules for p in m.state_dict().values()]


def _assert_unchanged(before, *modules):
    after = [p for m in modules for p in m.state_dict().values()]
    assert len(before) == len(after) and all(torch.equal(a, b) for a, b in zip(before, after))


# --- 1. the fingerprint identifies the run ---------------------------------------------------------


@pytest.mark.parametrize(
    "other,match",
    [
        (lambda: _digits(activation=nn.ReLU), r"model\.encoder\.1\.1.*Tanh.*ReLU"),
        (lambda: _digits(dropout=0.5), r"Dropout\(p=0\.1.*p=0\.5"),
    ],
    ids=["relu-for-tanh", "dropout-0.5-for-0.1"],
)
def test_same_shapes_other_architecture_is_refused(tmp_path, other, match):
    ckpt = tmp_path / "run.pt"
    train(_digits(), make_method("aevb"), DIGITS, DIGITS_TEST, checkpoint=ckpt, **KW)
    assert {k: v.shape for k, v in other().state_dict().items()} == {k: v.shape for k, v in _digits().state_dict().items()}
    before = ckpt.read_bytes()
    model = other()
    snap = _snapshot(model)
    with pytest.raises(CheckpointError, match=match):
        train(model, make_method("aevb"), DIGITS, DIGITS_TEST, checkpoint=ckpt, **KW)
    assert ckpt.read_bytes() == before
    _assert_unchanged(snap, model)


def test_other_held_out_data_is_refused(tmp_path):
    ckpt = tmp_path / "run.pt"
    train(*_fresh(), TRAIN, TEST, checkpoint=ckpt, **KW)
    before = ckpt.read_bytes()
    with pytest.raises(CheckpointError, match="test_data"):
        train(*_fresh(), TRAIN, make_sine_waves(32, seed=7).x, checkpoint=ckpt, **KW)
    assert ckpt.read_bytes() == before


def test_other_method_module_settings_are_refused(tmp_path):
    # the nonparametric VAE's locator is part of the method: its layers are fingerprinted too
    ckpt = tmp_path / "run.pt"
    torch.manual_seed(0)
    train(_digits(), NonparametricVAE(data_dim=16, hidden=(8,)), DIGITS, DIGITS_TEST, checkpoint=ckpt, **KW)
    method = NonparametricVAE(data_dim=16, hidden=(8,))
    method.locator[1][1] = nn.ReLU()
    with pytest.raises(CheckpointError, match=r"method\.locator\.1\.1"):
        train(_digits(), method, DIGITS, DIGITS_TEST, checkpoint=ckpt, **KW)


# --- 2. integrity, and a refused checkpoint changes nothing ----------------------------------------


def test_a_flipped_bit_inside_a_stored_tensor_is_refused_and_kept(tmp_path):
    ckpt = tmp_path / "run.pt"
    train(*_fresh(), TRAIN, TEST, checkpoint=ckpt, **{**KW, "epochs": 1})
    record = flip_a_bit_inside_the_largest_tensor(ckpt)
    assert zipfile.ZipFile(ckpt).testzip() == record  # the zip's CRC sees it ...
    torch.load(ckpt, weights_only=True)  # ... torch.load does not
    corrupted = ckpt.read_bytes()
    model, method = _fresh()
    snap = _snapshot(model, method)
    calls = []
    with pytest.raises(CheckpointError, match=f"corrupted.*{record}"):
        train(model, method, TRAIN, TEST, checkpoint=ckpt, on_step=lambda e, s: calls.append(s), **KW)
    assert calls == [] and ckpt.read_bytes() == corrupted
    _assert_unchanged(snap, model, method)


def _tamper(ckpt, edit):
    state = torch.load(ckpt, weights_only=True)
    edit(state)
    torch.save(state, ckpt)


def _drop(key):
    return lambda state: state.pop(key)


def _wrong_shape(state):
    name = next(iter(state["model"]))
    state["model"][name] = torch.zeros(3)


def _bare_format(state):
    fmt = state["format"]
    state.clear()
    state["format"] = fmt


def _short_history(state):
    state["history"]["seconds"] = state["history"]["seconds"][:1]


@pytest.mark.parametrize(
    "edit,match",
    [
        (_drop("optimizers"), "malformed.*optimizers"),
        (_drop("fingerprint"), "malformed.*fingerprint"),
        (_bare_format, "malformed"),
        (_wrong_shape, "(?s)malformed.*size mismatch"),
        (_short_history, "malformed.*history"),
    ],
    ids=["no-optimizers", "no-fingerprint", "format-only", "wrong-tensor-shape", "short-history"],
)
def test_a_malformed_checkpoint_is_refused_and_changes_nothing(tmp_path, edit, match):
    ckpt = tmp_path / "run.pt"
    train(*_fresh("wae_gan", hidden=16, layers=2), TRAIN, TEST, checkpoint=ckpt, **KW)
    _tamper(ckpt, edit)
    before = ckpt.read_bytes()
    model, method = _fresh("wae_gan", hidden=16, layers=2)
    method.configure_model(model)  # build the adversary, so that its weights are compared too
    snap = _snapshot(model, method)
    with pytest.raises(CheckpointError, match=match):
        train(model, method, TRAIN, TEST, checkpoint=ckpt, **KW)
    assert ckpt.read_bytes() == before
    _assert_unchanged(snap, model, method)


def test_too_few_epochs_is_refused_before_the_model_is_touched(tmp_path):
    ckpt = tmp_path / "run.pt"
    train(*_fresh(), TRAIN, TEST, checkpoint=ckpt, **KW)
    model, method = _fresh()
    snap = _snapshot(model)
    with pytest.raises(CheckpointError, match="more than the 1 asked for"):
        train(model, method, TRAIN, TEST, checkpoint=ckpt, **{**KW, "epochs": 1})
    _assert_unchanged(snap, model)


def test_a_format_1_checkpoint_is_refused_with_the_reason(tmp_path):
    ckpt = tmp_path / "run.pt"
    train(*_fresh(), TRAIN, TEST, checkpoint=ckpt, **KW)
    _tamper(ckpt, lambda state: state.update(format=1))
    with pytest.raises(CheckpointError, match="format 1"):
        train(*_fresh(), TRAIN, TEST, checkpoint=ckpt, **KW)


# --- 3. fail before work --------------------------------------------------------------------------


def test_an_unwritable_checkpoint_path_is_found_before_the_first_step(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("a regular file, so nothing can be created under it (even by root)")
    ckpt = blocker / "sub" / "run.pt"
    calls = []
    with pytest.raises(CheckpointError, match=f"cannot write checkpoint {ckpt}"):
        train(*_fresh(), TRAIN, TEST, checkpoint=ckpt, on_step=lambda e, s: calls.append(s), **KW)
    assert calls == []


def _nan_at(x, i):
    x = x.clone()
    x.view(-1)[i] = float("nan")
    return x


@pytest.mark.parametrize(
    "train_x,test_x,error,match",
    [
        (TRAIN.double(), TEST, TypeError, "train_x must be float32.*float64"),
        (TRAIN, TEST.half(), TypeError, "test_x must be float32.*float16"),
        (TRAIN.numpy(), TEST, TypeError, "train_x must be a torch.Tensor.*numpy"),
        (TRAIN, TEST.numpy(), TypeError, "test_x must be a torch.Tensor.*numpy"),
        (TRAIN, TEST[:0], ValueError, "test_x must hold at least one sample"),
        (TRAIN, _nan_at(TEST, 100), ValueError, "test_x has 1 NaN"),
        (_nan_at(TRAIN, 5000), TEST, ValueError, "train_x has 1 NaN"),
        (TRAIN.long(), TEST, TypeError, "int64"),
    ],
    ids=["float64", "float16", "numpy-train", "numpy-test", "empty-test", "nan-test", "nan-train", "int64"],
)
def test_bad_data_is_a_clear_error_before_the_first_step(tmp_path, train_x, test_x, error, match):
    calls = []
    with pytest.raises(error, match=match):
        train(*_fresh(), train_x, test_x, checkpoint=tmp_path / "run.pt", on_step=lambda e, s: calls.append(s), **KW)
    assert calls == [] and not (tmp_path / "run.pt").exists()


@pytest.mark.parametrize(
    "x,error", [(TEST.double(), TypeError), (TEST.numpy(), TypeError), (TEST[:0], ValueError), (_nan_at(TEST, 3), ValueError)]
)
def test_evaluate_checks_its_data(x, error):
    with pytest.raises(error, match="x "):
        evaluate(sine_autoencoder(), x, batch_size=16)


def test_the_finiteness_check_is_exact_when_a_sum_overflows():
    # the check sums the data first: a sum that overflows must not be taken for a NaN
    check_data(torch.full((4, 1, 256), 3e38), "x")
    with pytest.raises(ValueError, match="x has 2 NaN or infinite"):
        check_data(torch.tensor([[1.0, float("inf"), float("-inf")]]), "x")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_gpu_run_loads_on_the_cpu(tmp_path):
    # the device and amp are not part of the run's fingerprint: a finished GPU run is read on a laptop
    ckpt = tmp_path / "run.pt"
    gpu = train(*_fresh(), TRAIN, TEST, checkpoint=ckpt, **{**KW, "device": "cuda", "amp": True})
    cpu = train(*_fresh(), TRAIN, TEST, checkpoint=ckpt, **KW)
    assert cpu.resumed_from_epoch == KW["epochs"] and cpu.test == gpu.test


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary_one(tmp_path, monkeypatch):
    """write_atomically (checkpoints, results records, MNIST files): a write that dies half-way changes nothing."""
    from wisetut.checkpoints import write_atomically
    from wisetut.outputs import save_results

    target = tmp_path / "results" / "x.json"
    write_atomically(target, lambda tmp: tmp.write_text("old"))

    def dies_half_way(tmp):
        tmp.write_text("half")
        raise KeyboardInterrupt  # a kill between the write and the rename

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, dies_half_way)
    assert target.read_text() == "old" and sorted(p.name for p in target.parent.iterdir()) == ["x.json"]
    # a results record that JSON cannot hold fails before anything is written
    monkeypatch.setenv("WISETUT_OUTPUT_DIR", str(tmp_path))
    with pytest.raises(TypeError):
        save_results({"experiment": "x", "bad": object()}, "x")
    assert target.read_text() == "old"
    assert save_results({"experiment": "x", "n": 1}, "x") == target and '"n": 1' in target.read_text()
