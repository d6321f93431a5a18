"""Seeds are first-class: train_methods(seeds=[...]) groups runs by seed, results records hold every seed."""

from __future__ import annotations

import json

import numpy as np
import pytest
from resume_helpers import assert_same_state
from scipy import stats

from wisetut.data import make_sine_waves
from wisetut.experiments import checkpoint_path, train_methods
from wisetut.methods import AEVB, WAEGAN, WiSE
from wisetut.models import sine_autoencoder
from wisetut.profiles import Settings
from wisetut.results import results_record

SETTINGS = Settings(n_train=64, n_test=32, epochs=1, batch_size=32, latent_dim=4, lr=1e-3)
X, X_TEST = make_sine_waves(64).x, make_sine_waves(32, seed=1).x
DATA = {"name": "sine", "source": "test", "n_train": 64, "n_test": 32}


@pytest.fixture
def quick(monkeypatch, tmp_path):
    monkeypatch.setenv("WISETUT_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("WISETUT_PROFILE", "quick")
    return tmp_path


def _methods():
    return {"wise": WiSE(), "wae_gan": WAEGAN(hidden=16, layers=1)}  # WAE-GAN: a method with weights of its own


def _train(**kw):
    return train_methods("sine", sine_autoencoder, _methods(), X, X_TEST, SETTINGS, device="cpu", progress=False, **kw)


def test_seeds_are_grouped_and_checkpointed_per_seed(quick):
    runs = _train(seeds=[0, 1, 2])
    assert list(runs) == ["wise", "wae_gan"] and all(list(g) == [0, 1, 2] for g in runs.values())
    names = sorted(p.name for p in (quick / "checkpoints").iterdir())
    assert names == sorted(f"sine-quick-{m}{s}.pt" for m in ("wise", "wae_gan") for s in ("", "-seed1", "-seed2"))
    assert checkpoint_path("sine", "wise", 2) == quick / "checkpoints" / "sine-quick-wise-seed2.pt"
    assert runs["wise"][0].history.train["loss"] != runs["wise"][1].history.train["loss"]  # a seed changes the run
    # seed 0 is the one-seed run: the chapters' call loads it (same checkpoint name, same fingerprint)
    single = _train(seed=0)
    assert set(single) == {"wise", "wae_gan"} and all(r.resumed_from_epoch == SETTINGS.epochs for r in single.values())
    assert_same_state(single["wise"].model, runs["wise"][0].model)


def test_the_one_seed_form_keeps_its_names_for_every_seed(quick):
    _train(seed=3)  # as chapter 9 calls it: one experiment per seed, each with its own seed
    assert sorted(p.name for p in (quick / "checkpoints").iterdir()) == ["sine-quick-wae_gan.pt", "sine-quick-wise.pt"]


def test_runs_are_named_by_the_profile_their_settings_belong_to(quick):
    """A chapter stored in one profile can train and load another profile's runs (chapter 4's seeds)."""
    from dataclasses import replace

    from wisetut.schedule import StepLR, describe_schedule

    runs = _train(seeds=[0, 1]) | train_methods(
        "sine",
        sine_autoencoder,
        {"aevb": AEVB()},
        X,
        X_TEST,
        replace(SETTINGS, profile="standard"),
        seeds=[0, 1],
        device="cpu",
        progress=False,
    )
    names = sorted(p.name for p in (quick / "checkpoints").iterdir())
    assert "sine-standard-aevb.pt" in names and "sine-standard-aevb-seed1.pt" in names
    assert "sine-quick-wise-seed1.pt" in names and not any("quick-aevb" in n for n in names)
    assert list(runs) == ["wise", "wae_gan", "aevb"]
    assert describe_schedule(1e-3) == "constant 0.001"
    assert describe_schedule(StepLR(5e-4, (30, 40), 0.2)) == "step: 0.0005 from epoch 0, x0.2 at epochs 30, 40 (counted from 0)"


def test_each_seed_trains_its_own_copy_of_the_method(quick, tmp_path_factory, monkeypatch):
    together = _train(seeds=[0, 1])
    monkeypatch.setenv("WISETUT_OUTPUT_DIR", str(tmp_path_factory.mktemp("alone")))
    alone = _train(seeds=[1])  # no seed-0 run before it: an adversary trained by seed 0 would show here
    assert alone["wae_gan"][1].resumed_from_epoch == 0
    assert_same_state(together["wae_gan"][1].method, alone["wae_gan"][1].method)
    assert_same_state(together["wae_gan"][1].model, alone["wae_gan"][1].model)


def test_results_record_holds_every_seed_and_the_mean_with_its_interval(quick):
    runs = _train(seeds=[0, 1, 2])
    record = json.loads(json.dumps(results_record("sine", SETTINGS, DATA, runs)))  # as the JSON file stores it
    assert record["settings"]["seeds"] == [0, 1, 2]
    entry = record["methods"]["wise"]
    values = [runs["wise"][k].test["recon_mse"] for k in (0, 1, 2)]
    assert [entry["per_seed"][k]["test_recon_mse"] for k in ("0", "1", "2")] == values
    assert entry["test_recon_mse"] == pytest.approx(np.mean(values))
    low, high = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
    assert entry["ci95"]["test_recon_mse"] == pytest.approx([low, high])
    one = results_record("sine", SETTINGS, DATA, _train(seed=0))  # one seed: the record every chapter stores today
    assert "seeds" not in one["settings"] and "per_seed" not in one["methods"]["wise"]
    assert one["methods"]["wise"] == runs["wise"][0].summary()


def test_repeated_or_negative_seeds_are_errors(quick):
    for seeds in ([1, 1], [-1]):
        with pytest.raises(ValueError, match="distinct non-negative"):
            _train(seeds=seeds)
