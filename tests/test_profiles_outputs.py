"""Profiles, output folders and the results record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from wisetut import current_profile, settings_for
from wisetut.data import make_sine_waves
from wisetut.experiments import train_methods
from wisetut.methods import AEVB, WiSE
from wisetut.models import sine_autoencoder
from wisetut.outputs import output_dir, quick_root, save_results
from wisetut.profiles import PROFILES, SETTINGS, Settings
from wisetut.results import results_record


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
    assert output_dir("figures") == quick_root() / "figures"
    monkeypatch.setenv("WISETUT_PROFILE", "standard")
    assert output_dir("figures") == tmp_path / "figures"


def test_results_record_follows_the_design_schema(monkeypatch, tmp_path):
    monkeypatch.setenv("WISETUT_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("WISETUT_PROFILE", "quick")
    settings = Settings(n_train=64, n_test=32, epochs=1, batch_size=32, latent_dim=4, lr=1e-3)
    x, x_test = make_sine_waves(64).x, make_sine_waves(32, seed=1).x
    runs = train_methods(
        "sine", sine_autoencoder, {"aevb": AEVB(), "wise": WiSE()}, x, x_test, settings, device="cpu", progress=False
    )
    record = results_record("sine", settings, {"name": "sine", "source": "test", "n_train": 64, "n_test": 32}, runs)
    path = save_results(record, "sine")
    loaded = json.loads(path.read_text())
    assert set(loaded) >= {"experiment", "profile", "device", "data", "settings", "methods"}
    assert loaded["profile"] == "quick" and loaded["settings"] == {
        "epochs": 1,
        "batch_size": 32,
        "latent_dim": 4,
        "lr": 1e-3,
        "lr_schedule": "constant 0.001",
    }
    for entry in loaded["methods"].values():
        assert set(entry) >= {"test_recon_mse", "test_elbo", "test_aevb_kl", "test_wise_kl", "train_seconds"}
    assert (tmp_path / "checkpoints" / "sine-quick-wise.pt").exists()
    with pytest.raises(ValueError, match="experiment"):
        save_results(record, "mnist")


def test_train_methods_in_processes_equals_the_sequential_run(monkeypatch, tmp_path):
    """workers=2 trains each method in its own one-thread process; the result is the sequential run's."""
    monkeypatch.setenv("WISETUT_PROFILE", "quick")
    settings = Settings(n_train=128, n_test=64, epochs=2, batch_size=32, latent_dim=4, lr=1e-3)
    x, x_test = make_sine_waves(128).x, make_sine_waves(64, seed=1).x
    methods = {"aevb": AEVB(), "wise": WiSE()}
    runs = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers' setting, so that the sums are taken in the same order
    try:
        for workers in (1, 2):
            monkeypatch.setenv("WISETUT_OUTPUT_DIR", str(tmp_path / f"w{workers}"))
            runs[workers] = train_methods(
                "sine", sine_autoencoder, methods, x, x_test, settings, device="cpu", progress=False, workers=workers
            )
    finally:
        torch.set_num_threads(threads)
    assert (tmp_path / "w2" / "checkpoints" / "sine-quick-wise.pt").exists()
    for name in methods:
        assert runs[2][name].resumed_from_epoch == settings.epochs  # loaded what the worker trained
        assert runs[1][name].history.test == runs[2][name].history.test
        for (k, a), b in zip(runs[1][name].model.state_dict().items(), runs[2][name].model.state_dict().values()):
            assert torch.equal(a, b), (name, k)


def test_train_methods_in_processes_needs_a_picklable_model_fn(monkeypatch, tmp_path):
    monkeypatch.setenv("WISETUT_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("WISETUT_PROFILE", "quick")
    settings = Settings(n_train=64, n_test=32, epochs=1, batch_size=32, latent_dim=4, lr=1e-3)
    x = make_sine_waves(64).x
    with pytest.raises(ValueError, match="picklable"):
        train_methods(
            "sine",
            lambda d: sine_autoencoder(d),
            {"aevb": AEVB(), "wise": WiSE()},
            x,
            x,
            settings,
            device="cpu",
            progress=False,
            workers=2,
        )


def test_train_methods_in_processes_raises_a_workers_error(monkeypatch, tmp_path):
    """A run that fails in a worker (here: a NaN in the data, refused before the first step) is an error in the caller."""
    monkeypatch.setenv("WISETUT_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("WISETUT_PROFILE", "quick")
    settings = Settings(n_train=64, n_test=32, epochs=1, batch_size=32, latent_dim=4, lr=1e-3)
    x = make_sine_waves(64).x.clone()
    x[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        train_methods(
            "sine",
            sine_autoencoder,
            {"aevb": AEVB(), "wise": WiSE()},
            x,
            x[:32],
            settings,
            device="cpu",
            progress=False,
            workers=2,
        )


def test_seeds_are_first_class(monkeypatch, tmp_path):
    """seeds=[...] trains every method per seed (own checkpoints); seed 0 is the single-seed run; records keep every seed."""
    monkeypatch.setenv("WISETUT_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("WISETUT_PROFILE", "quick")
    settings = Settings(n_train=64, n_test=32, epochs=1, batch_size=32, latent_dim=4, lr=1e-3, profile="quick")
    x, x_test = make_sine_waves(64).x, make_sine_waves(32, seed=1).x
    methods = {"aevb": AEVB(), "wise": WiSE()}
    grouped = train_methods("sine", sine_autoencoder, methods, x, x_test, settings, seeds=[0, 1], device="cpu", progress=False)
    # the one-seed form names its run without a suffix, the file of seed 0 above: train it under another name
    single = train_methods("sine_alone", sine_autoencoder, methods, x, x_test, settings, seed=1, device="cpu", progress=False)
    assert set(grouped) == {"aevb", "wise"} and set(grouped["wise"]) == {0, 1}
    assert (tmp_path / "checkpoints" / "sine-quick-wise-seed1.pt").exists()
    for name in methods:  # the seeded run is the single-seed run with that seed
        for a, b in zip(grouped[name][1].model.state_dict().values(), single[name].model.state_dict().values()):
            assert torch.equal(a, b)
        assert grouped[name][0].test["recon_mse"] != grouped[name][1].test["recon_mse"]  # seeds differ
    again = train_methods("sine", sine_autoencoder, methods, x, x_test, settings, seeds=[0, 1], device="cpu", progress=False)
    assert all(r.resumed_from_epoch == 1 for g in again.values() for r in g.values())  # loaded, not retrained
    record = results_record("sine", settings, {"name": "sine", "source": "test", "n_train": 64, "n_test": 32}, grouped)
    entry = record["methods"]["wise"]
    per = [grouped["wise"][s].test["recon_mse"] for s in (0, 1)]
    assert entry["seeds"] == [0, 1] and entry["test_recon_mse"] == pytest.approx(sum(per) / 2)
    assert entry["per_seed"]["1"]["test_recon_mse"] == per[1]
    lo, hi = entry["ci95"]["test_recon_mse"]
    assert lo < entry["test_recon_mse"] < hi
    assert record["settings"]["seeds"] == [0, 1] and record["profile"] == "quick"
    json.dumps(record)
    with pytest.raises(ValueError, match="distinct"):
        train_methods("sine", sine_autoencoder, methods, x, x_test, settings, seeds=[0, 0], device="cpu", progress=False)


def test_settings_carry_their_knobs_into_the_results_record():
    """Chapters 6 and 8 read their classifier epochs and pair counts from the settings of each profile; records store them."""
    assert {p: settings_for("wae", p).knobs["classifier_epochs"] for p in PROFILES} == {"quick": 1, "standard": 8, "paper": 8}
    assert {p: settings_for("npvae", p).knobs["interpolation_pairs"] for p in PROFILES} == {
        "quick": 20,
        "standard": 200,
        "paper": 200,
    }
    assert settings_for("sine", "quick").knobs == {} and "knobs" not in repr(settings_for("wae", "quick"))
    record = results_record("wae", settings_for("wae", "quick"), {"name": "none"}, {})
    assert record["settings"]["classifier_epochs"] == 1 and record["profile"] == "quick"


def test_each_checkout_has_its_own_quick_folder(tmp_path):
    """Two copies of the package on one machine (two clones) never share their quick checkpoints."""
    import shutil
    import subprocess
    import sys

    import wisetut

    for name in ("a", "b"):
        shutil.copytree(Path(wisetut.__file__).parent, tmp_path / name / "wisetut", ignore=shutil.ignore_patterns("__pycache__"))
    roots = [
        subprocess.run(
            [sys.executable, "-c", "from wisetut.outputs import quick_root; print(quick_root())"],
            cwd=tmp_path / name,
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": "", "PYTHONPATH": str(tmp_path / name)},
        ).stdout.strip()
        for name in ("a", "b")
    ]
    assert roots[0] != roots[1] and all("wisetut-quick-" in r for r in roots)
    assert str(quick_root()) not in roots
