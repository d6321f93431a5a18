"""Profiles, output folders and the results record."""

from __future__ import annotations

import json

import pytest
import torch

from wisetut import current_profile, settings_for
from wisetut.data import make_sine_waves
from wisetut.experiments import results_record, train_methods
from wisetut.methods import AEVB, WiSE
from wisetut.models import sine_autoencoder
from wisetut.outputs import output_dir, save_results
from wisetut.profiles import SETTINGS, Settings


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("WISETUT_PROFILE", "Standard")
    assert current_profile() == "standard"
    monkeypatch.setenv("WISETUT_PROFILE", "huge")
    with pytest.raises(ValueError, match="quick, standard, paper"):
        current_profile()
    monkeypatch.delenv("WISETUT_PROFILE")
    assert current_profile() == ("paper" if torch.cuda.is_available() else "standard")


def test_paper_profile_is_appendix_d():
    sine, mnist = settings_for("sine", "paper"), settings_for("mnist", "paper")
    assert (sine.batch_size, sine.epochs, sine.lr, sine.latent_dim) == (64, 50, 5e-4, 4)
    assert sine.n_train + sine.n_test == 200_000
    assert (mnist.batch_size, mnist.epochs, mnist.lr, mnist.latent_dim) == (64, 30, 1e-3, 2)
    with pytest.raises(ValueError, match="unknown experiment"):
        settings_for("cifar")
    for experiment in SETTINGS.values():
        assert experiment["quick"].epochs <= 2


def test_quick_profile_writes_to_a_temporary_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("WISETUT_OUTPUT_DIR", raising=False)
    monkeypatch.setenv("WISETUT_PROFILE", "quick")
    monkeypatch.chdir(tmp_path)
    assert tmp_path not in output_dir("figures").parents
    monkeypatch.setenv("WISETUT_PROFILE", "standard")
    assert output_dir("figures") == tmp_path / "figures"


def test_results_record_follows_the_design_schema(monkeypatch, tmp_path):
    monkeypatch.setenv("WISETUT_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("WISETUT_PROFILE", "quick")
    settings = Settings(n_train=64, n_test=32, epochs=1, batch_size=32, latent_dim=4, lr=1e-3)
    x, x_test = make_sine_waves(64).x, make_sine_waves(32, seed=1).x
    runs = train_methods("sine", sine_autoencoder, {"aevb": AEVB(), "wise": WiSE()}, x, x_test, settings,
                         device="cpu", progress=False)
    record = results_record("sine", settings, {"name": "sine", "source": "test", "n_train": 64, "n_test": 32}, runs)
    path = save_results(record, "sine")
    loaded = json.loads(path.read_text())
    assert set(loaded) >= {"experiment", "profile", "device", "data", "settings", "methods"}
    assert loaded["profile"] == "quick" and loaded["settings"] == {"epochs": 1, "batch_size": 32, "latent_dim": 4, "lr": 1e-3}
    for entry in loaded["methods"].values():
        assert set(entry) >= {"test_recon_mse", "test_elbo", "test_aevb_kl", "test_wise_kl", "train_seconds"}
    assert (tmp_path / "checkpoints" / "sine-quick-wise.pt").exists()
    with pytest.raises(ValueError, match="experiment"):
        save_results(record, "mnist")
