"""The claims each experiment declares before its runs (wisetut.declared, attached in wisetut.runs).

Each declared claim must be judgeable on its experiment's runs (its arms are run names of the experiment),
unique by name, from a known source; a claim judged on a stored run before it was declared must match that
stored verdict (name, direction, source, statement) and say that it was declared after the results; and every
chapter that judges claims on an experiment declares them, or this file says why it cannot.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from wisetut import claims, declared, runs
from wisetut.runs import EXPERIMENTS

RESULTS = Path(__file__).resolve().parents[1] / "book" / "results"

# experiment -> (results file, the keys that lead to its "verdicts" inside it)
STORED = {
    "sine": ("sine_seeds.json", ()),
    "wae": ("wae.json", ()),
    "wae_beta1": ("wae.json", ()),
    "squares": ("wae.json", ("fading_squares",)),
    "celeba": ("celeba.json", ()),
    "npvae": ("npvae.json", ()),
    "teapots": ("teapots.json", ()),
    "controls_sine": ("controls.json", ()),
    "controls_mnist": ("controls.json", ()),
}
# experiments whose stored verdicts are not the declared claims' because the results are about to be re-made from them
RE_MADE = {
    "mnist": "chapter 5's claims were re-declared (some renamed) before its five D.2 seeds; mnist.json predates them",
}
JUDGING_CHAPTERS = {
    "04_sine_waves",
    "05_mnist_2d",
    "06_wasserstein_autoencoders",
    "07_faces",
    "08_nonparametric_vae",
    "09_teapots",
    "10_what_makes_wise_ale_work",
    "11_future_work",
}
# experiments of those chapters that declare no claim, and why: a Claim is two arms of one experiment compared
# by one per-seed measure, with a margin of seed-to-seed spreads only
NO_CLAIMS = {
    "sine_annealed": "chapter 4 judges no claim on the annealed runs",
    "controls_mnist_m16": "chapter 10's batch-size claims compare runs of two experiments (M = 16, 64, 256)",
    "controls_mnist_m256": "chapter 10's batch-size claims compare runs of two experiments (M = 16, 64, 256)",
    "future_sine": "chapter 11's verdicts are against thresholds, exact, or 'within 10%' (a scale, not a Claim's margin)",
    "future_mnist": "chapter 11's verdicts are against thresholds, exact, or 'within 10%' (a scale, not a Claim's margin)",
}
DECLARING = [e for e in EXPERIMENTS.values() if e.claims]


def _stored(name: str) -> dict[str, dict]:
    file, keys = STORED[name]
    record = json.loads((RESULTS / file).read_text())
    for k in keys:
        record = record[k]
    return {v["name"]: v for v in record["verdicts"]}


@pytest.mark.parametrize("e", DECLARING, ids=lambda e: e.name)
def test_each_claim_is_two_runs_of_its_experiment_by_name_from_a_known_source(e):
    runs_of = set(e.plan("paper")) | set(e.methods("paper"))
    names = [c.name for c in e.claims]
    assert len(names) == len(set(names)), f"{e.name}: duplicate claim names {sorted({n for n in names if names.count(n) > 1})}"
    for c in e.claims:
        assert isinstance(c, claims.Claim)
        assert {c.a, c.b} <= runs_of, f"{e.name}: {c.name!r} compares {c.a!r} and {c.b!r}, runs of it are {sorted(runs_of)}"
        assert c.a != c.b and c.measure, c.name
        assert c.source in claims.SOURCES and c.claimed in ("greater", "less"), c.name
        assert c.family in ("paper", "ours") and (c.family == "ours") == (c.source == "ours"), c.name
        assert c.declared == "before the runs" or c.declared.startswith("after the results: "), c.declared


@pytest.mark.parametrize("name", sorted(STORED))
def test_declared_claims_are_the_stored_verdicts_they_were_transcribed_from(name):
    stored = _stored(name)
    for c in EXPERIMENTS[name].claims:
        assert c.name in stored, f"{name}: declared {c.name!r} is not a stored verdict of {STORED[name][0]}"
        v = stored[c.name]
        assert (v["claimed"], v["source"]) == (c.claimed, c.source), c.name
        assert v["test"] == "paired t", f"{c.name!r} was stored as {v['test']}, not two arms paired by seed"
        assert not v["statement"] or v["statement"] == c.statement, c.name
        assert bool(v.get("margin")) == (c.margin is not None), c.name
        if v.get("declared") != "before the runs":  # judged before it was declared: the claim says so
            assert c.declared.startswith("after the results"), c.name


def test_every_declaring_experiment_is_checked_against_its_stored_verdicts_or_is_about_to_be_re_made():
    assert {e.name for e in DECLARING} == set(STORED) | set(RE_MADE)
    assert not set(STORED) & set(RE_MADE)


def test_every_experiment_of_a_judging_chapter_declares_claims_or_says_why_not():
    for e in EXPERIMENTS.values():
        if set(e.chapters) & JUDGING_CHAPTERS:
            assert bool(e.claims) != (e.name in NO_CLAIMS), f"{e.name}: declares {len(e.claims)} claims; NO_CLAIMS is stale"
    assert set(NO_CLAIMS) <= set(EXPERIMENTS)
    assert {c for e in DECLARING for c in e.chapters} == JUDGING_CHAPTERS - {"11_future_work"}


def test_declared_imports_only_claims_and_runs_attaches_the_same_tuples():
    tree = ast.parse(Path(declared.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert imported <= {"__future__", "wisetut.claims"}, imported
    assert runs.TEAPOTS_CLAIMS is declared.TEAPOTS_CLAIMS and EXPERIMENTS["teapots"].claims is declared.TEAPOTS_CLAIMS
    assert EXPERIMENTS["mnist"].claims is declared.MNIST_CLAIMS
    for e in DECLARING:
        assert any(e.claims is getattr(declared, n) for n in declared.__all__), e.name
