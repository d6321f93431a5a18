"""The registry of runs (wisetut.runs) trains exactly what the chapters train: the same fingerprints.

The chapters' own training code is executed in the quick profile (tests/notebook_calls.py) and
records its ``train_methods`` calls. Each recorded run must be a run of the registry with the same
engine fingerprint, the same held-out data and the same initial method weights.
"""

from __future__ import annotations

import copy

import pytest
import torch
from notebook_calls import BOOK
from notebook_calls import notebook_calls as _notebook_calls

from wisetut import checkpoints
from wisetut.engine import train
from wisetut.runs import EXPERIMENTS, experiment

CHAPTERS = sorted({c for e in EXPERIMENTS.values() for c in e.chapters})
# Chapters that train through train_methods but are not in the registry yet, and why
NOT_IN_THE_REGISTRY: dict[str, str] = {}  # none left: every training chapter's runs are in wisetut.runs


# Chapters that train with one call on their registry entry (experiment(name).train(...)), nothing inline:
# their runs are the registry's by construction. The others still write their methods in the chapter, and
# the tests below execute their training cells to check that those are the registry's runs.
THROUGH_THE_REGISTRY = {
    "05_mnist_2d": "mnist.train(",
    "06_wasserstein_autoencoders": "wae.train(",
    "07_faces": "celeba.train(",
    "09_teapots": "teapots.train(",
}
SPIED = [c for c in CHAPTERS if c not in THROUGH_THE_REGISTRY]


def test_every_training_chapter_is_in_the_registry_or_says_why():
    training = {p.stem for p in BOOK.glob("*.ipynb") if "train_methods(" in p.read_text()}
    training |= {c for c, call in THROUGH_THE_REGISTRY.items() if call in (BOOK / f"{c}.ipynb").read_text()}
    assert training == set(CHAPTERS) | set(NOT_IN_THE_REGISTRY)
    assert not set(CHAPTERS) & set(NOT_IN_THE_REGISTRY)


def test_a_chapter_trained_through_the_registry_defines_no_method_inline():
    from wisetut.methods import METHODS

    for chapter in THROUGH_THE_REGISTRY:
        code = "".join(
            "".join(c["source"])
            for c in __import__("json").loads((BOOK / f"{chapter}.ipynb").read_text())["cells"]
            if c["cell_type"] == "code"
        )
        built = [cls.__name__ for cls in METHODS.values() if f"{cls.__name__}(" in code]
        assert not built and "train_methods(" not in code, (chapter, built)


@pytest.fixture(scope="module")
def notebook_calls(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("WISETUT_PROFILE", "quick")
    mp.setenv("WISETUT_OUTPUT_DIR", str(tmp_path_factory.mktemp("runs")))
    mp.chdir(BOOK)  # the chapters' working directory ("../data")
    try:
        yield {chapter: _notebook_calls(chapter) for chapter in SPIED}
    finally:
        mp.undo()


class _Stop(Exception):
    pass


def _run_fingerprint(model_fn, method, train_x, test_x, settings, seed=0) -> dict:
    """The fingerprint the engine gives this run (train() stopped right after it computes it)."""
    seen = {}

    def spy(*args):
        seen["fingerprint"] = real(*args)
        raise _Stop

    real, checkpoints.run_fingerprint = checkpoints.run_fingerprint, spy
    try:
        torch.manual_seed(seed)
        train(
            model_fn(settings.latent_dim),
            copy.deepcopy(method),
            train_x,
            test_x,
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            lr=settings.lr,
            seed=seed,
            progress=False,
            device="cpu",
        )
    except _Stop:
        pass
    finally:
        checkpoints.run_fingerprint = real
    return seen["fingerprint"]


def _registry_runs(monkeypatch, name: str) -> dict:
    monkeypatch.setenv("WISETUT_PROFILE", "quick")
    monkeypatch.chdir(BOOK)
    return {m: (c, method) for c in experiment(name).calls() for m, method in c.methods.items()}


@pytest.mark.parametrize("chapter", SPIED)
def test_every_run_of_a_chapter_is_the_registry_run(notebook_calls, chapter, monkeypatch):
    calls = notebook_calls[chapter]
    assert calls, f"{chapter} trains nothing through train_methods"
    registry = {}
    for call in calls:
        assert call["experiment"] in EXPERIMENTS, f"{chapter} trains {call['experiment']!r}, which the registry lacks"
        assert chapter in experiment(call["experiment"]).chapters
        registry.setdefault(call["experiment"], _registry_runs(monkeypatch, call["experiment"]))
        for name, method in call["methods"].items():
            assert name in registry[call["experiment"]], (call["experiment"], name)
            ours, our_method = registry[call["experiment"]][name]
            assert set(call["seeds"]) <= set(experiment(call["experiment"]).seeds_of(name, "quick"))
            assert ours.settings == call["settings"], (call["experiment"], name)
            assert torch.equal(ours.test_x, call["test_x"])
            assert our_method.state_dict().keys() == method.state_dict().keys()
            if not hasattr(method, "reset_parameters"):  # else each seed draws the method's own weights (chapter 8's locator)
                for k, v in method.state_dict().items():  # a method's own initial weights
                    assert torch.equal(our_method.state_dict()[k], v), (name, k)
            assert _run_fingerprint(ours.model_fn, our_method, ours.train_x, ours.test_x, ours.settings) == _run_fingerprint(
                call["model_fn"], method, call["train_x"], call["test_x"], call["settings"]
            ), (call["experiment"], name)


def test_the_registry_holds_nothing_the_chapters_do_not_train(notebook_calls, monkeypatch):
    calls = [c for chapter_calls in notebook_calls.values() for c in chapter_calls]
    trained = {(c["experiment"], name, seed) for c in calls for name in c["methods"] for seed in c["seeds"]}
    monkeypatch.setenv("WISETUT_PROFILE", "quick")
    spied = [e for e in EXPERIMENTS.values() if not set(e.chapters) <= set(THROUGH_THE_REGISTRY)]
    assert {(e.name, m, seed) for e in spied for m in e.plan() for seed in e.seeds_of(m)} == trained


def test_unknown_names_are_clear_errors():
    with pytest.raises(ValueError, match="expected one of sine, sine_annealed, mnist"):
        experiment("cifar")
    with pytest.raises(ValueError, match="no run 'vae'.*expected some of aevb"):
        experiment("sine").check_methods(["vae"])
