"""The claims each experiment declares before its runs (wisetut.declared, attached in wisetut.runs).

Each declared claim must be judgeable on its experiment's runs (its arms are run names of the experiment),
unique by name, from a known source; a claim judged on a stored run before it was declared must match that
stored verdict (name, direction, source, statement, and the measures and scale its numbers show) and say that
it was declared after the results; its arms, measures and scale must give the stored verdict's estimate from
the per-seed values stored beside it; and every chapter that judges claims on an experiment declares them,
or this file says why it cannot.
"""

from __future__ import annotations

import ast
import json
import math
import re
from pathlib import Path

import pytest

from wisetut import claims, declared, runs
from wisetut.runs import EXPERIMENTS

RESULTS = Path(__file__).resolve().parents[1] / "book" / "results"

# experiment -> (results file, the keys that lead to its "verdicts" inside it, the keys that lead to its runs'
# "methods" record, whose per-seed tables ({seed: {measure: value}}) hold the values the verdicts were judged on)
STORED = {
    "sine": ("sine_seeds.json", (), ()),
    "wae": ("wae.json", (), ()),
    "wae_beta1": ("wae.json", (), ("wae_gan_adam_beta1",)),
    "squares": ("wae.json", ("fading_squares",), ("fading_squares",)),
    "celeba": ("celeba.json", (), ()),
    "npvae": ("npvae.json", (), ()),
    "teapots": ("teapots.json", (), ()),
    "controls_sine": ("controls.json", (), ("sine",)),
    "controls_mnist": ("controls.json", (), ("mnist",)),
    "future_sine": ("future.json", (), ("sine",)),
    "future_mnist": ("future.json", (), ("mnist",)),
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
# experiments of those chapters that declare no claim, and why: a Claim is two arms of one experiment paired by
# seed, each by a per-seed measure (b's may differ), b scaled or shifted by a margin of seed-to-seed spreads
NO_CLAIMS = {
    "sine_annealed": "chapter 4 judges no claim on the annealed runs",
    "controls_mnist_m16": "chapter 10's batch-size claims compare runs of two experiments (M = 16, 64, 256)",
    "controls_mnist_m256": "chapter 10's batch-size claims compare runs of two experiments (M = 16, 64, 256)",
}
DECLARING = [e for e in EXPERIMENTS.values() if e.claims]


def _record(name: str, keys: tuple[str, ...]) -> dict:
    record = json.loads((RESULTS / STORED[name][0]).read_text())
    for k in keys:
        record = record[k]
    return record


def _stored(name: str) -> dict[str, dict]:
    return {v["name"]: v for v in _record(name, STORED[name][1])["verdicts"]}


def _per_seed(methods: dict, run: str, measure: str) -> dict[str, float] | None:
    """``run``'s stored ``{seed: value}`` of ``measure``: from the first per-seed table of its record that has it."""
    for table in methods.get(run, {}).values():
        if isinstance(table, dict) and table and all(isinstance(m, dict) and measure in m for m in table.values()):
            return {seed: m[measure] for seed, m in table.items()}
    return None


# Seeded.compare's numbers: "<measure>: <a> <mean> against [<scale> × ]<b>[ <b measure>] <mean>[ (<reference>)]"
_RIGHT = re.compile(r"^(?:(?P<scale>\S+) × )?(?P<b>.*?) (?P<mean>-?[\d.]+(?:e[-+]?\d+)?)(?: \(.*\))?$")


@pytest.mark.parametrize("e", DECLARING, ids=lambda e: e.name)
def test_each_claim_is_two_runs_of_its_experiment_by_name_from_a_known_source(e):
    runs_of = set(e.plan("paper")) | set(e.methods("paper"))
    names = [c.name for c in e.claims]
    assert len(names) == len(set(names)), f"{e.name}: duplicate claim names {sorted({n for n in names if names.count(n) > 1})}"
    for c in e.claims:
        assert isinstance(c, claims.Claim)
        assert {c.a, c.b} <= runs_of, f"{e.name}: {c.name!r} compares {c.a!r} and {c.b!r}, runs of it are {sorted(runs_of)}"
        assert c.measure and c.b_measure != c.measure, f"{c.name!r}: b_measure is only for a measure other than a's"
        assert (c.a, c.measure) != (c.b, c.b_measure or c.measure), c.name
        assert math.isfinite(c.scale) and c.scale > 0, f"{c.name!r}: scale {c.scale}"
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


@pytest.mark.parametrize("name", sorted(STORED))
def test_declared_measures_and_scale_are_those_the_stored_verdicts_show(name):
    """A stored verdict keeps no b measure or scale of its own: its numbers show them, as Seeded.compare wrote them."""
    stored = _stored(name)
    for c in EXPERIMENTS[name].claims:
        numbers = stored[c.name]["numbers"]
        assert numbers.startswith(f"{c.measure}: ") and " against " in numbers, f"{c.name!r}: {numbers!r}"
        right = _RIGHT.match(numbers.split(" against ", 1)[1])
        assert right, f"{c.name!r}: {numbers!r} is not a paired comparison's numbers"
        assert right["scale"] == (None if c.scale == 1 else f"{c.scale:g}"), f"{c.name!r}: scale {c.scale} against {numbers!r}"
        shown = right["b"].rsplit(" ", 1)[-1]  # b's label, then b's measure where it is not a's
        if c.b_measure:
            assert shown == c.b_measure, f"{c.name!r}: b measure {c.b_measure!r} against {numbers!r}"
        else:
            assert "_" not in shown, f"{c.name!r}: the stored verdict shows b's measure {shown!r}; the claim has none"


@pytest.mark.parametrize("name", sorted(STORED))
def test_declared_arms_measures_and_scale_give_the_stored_estimate(name):
    """The mean of a's measure minus the mean of scale x b's (b's measure), less the stored margin: the stored estimate."""
    stored, methods = _stored(name), _record(name, STORED[name][2])["methods"]
    for c in EXPERIMENTS[name].claims:
        v = stored[c.name]
        a, b = _per_seed(methods, c.a, c.measure), _per_seed(methods, c.b, c.b_measure or c.measure)
        assert a is not None, f"{c.name!r}: no per-seed {c.measure!r} of {c.a!r} stored in {STORED[name][0]}"
        assert b is not None, f"{c.name!r}: no per-seed {c.b_measure or c.measure!r} of {c.b!r} stored in {STORED[name][0]}"
        assert a.keys() == b.keys() and len(a) == v["n"], f"{c.name!r}: seeds {sorted(a)} and {sorted(b)}, n = {v['n']}"
        estimate = sum(a.values()) / len(a) - sum(c.scale * x for x in b.values()) / len(b) - (v.get("margin") or 0.0)
        assert math.isclose(estimate, v["estimate"], rel_tol=1e-9, abs_tol=1e-12), (
            f"{c.name!r}: {estimate} against {v['estimate']}"
        )


def test_every_declaring_experiment_is_checked_against_its_stored_verdicts_or_is_about_to_be_re_made():
    assert {e.name for e in DECLARING} == set(STORED) | set(RE_MADE)
    assert not set(STORED) & set(RE_MADE)


def test_every_experiment_of_a_judging_chapter_declares_claims_or_says_why_not():
    for e in EXPERIMENTS.values():
        if set(e.chapters) & JUDGING_CHAPTERS:
            assert bool(e.claims) != (e.name in NO_CLAIMS), f"{e.name}: declares {len(e.claims)} claims; NO_CLAIMS is stale"
    assert set(NO_CLAIMS) <= set(EXPERIMENTS)
    assert {c for e in DECLARING for c in e.chapters} == JUDGING_CHAPTERS


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
