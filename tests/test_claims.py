"""The verdict helper: three states from scipy.stats intervals, one seed unresolved, convergence marked."""

import json

import numpy as np
import pytest
from scipy import stats

from wisetut import claims


def test_holds_fails_unresolved_welch():
    a = [10.0, 10.4, 9.8]
    b = [12.0, 12.5, 11.7]
    assert claims.compare("lower", a, b, claimed="less").state == "holds"
    assert claims.compare("higher", a, b, claimed="greater").state == "fails"
    noisy = claims.compare("noise", [10.0, 13.0, 9.0], [11.0, 12.0, 10.5], claimed="less")
    assert noisy.state == "unresolved"
    lo, hi = noisy.interval
    assert lo < 0 < hi


def test_welch_interval_matches_scipy_on_a_hand_case():
    a, b = [1.0, 2.0, 3.5], [0.0, 1.0, 1.2]
    v = claims.compare("x", a, b)
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert v.test == "Welch t"
    assert v.interval == pytest.approx((ci.low, ci.high), rel=1e-12)
    assert v.estimate == pytest.approx(np.mean(a) - np.mean(b))
    assert v.state == "unresolved"  # ci.low = -1.17 < 0


def test_paired_interval_matches_scipy_and_can_resolve_what_welch_cannot():
    a = [10.0, 20.0, 30.0, 40.0]
    b = [9.0, 19.2, 28.9, 39.1]  # a large spread between seeds, a steady gap within each seed
    paired = claims.compare("p", a, b, paired=True)
    ci = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert paired.test == "paired t"
    assert paired.interval == pytest.approx((ci.low, ci.high), rel=1e-12)
    assert paired.state == "holds"
    assert claims.compare("w", a, b).state == "unresolved"
    with pytest.raises(ValueError, match="as many values"):
        claims.compare("p", a, b[:3], paired=True)


def test_threshold_margin_and_one_seed():
    v = claims.compare("above 0.5", [0.61, 0.63, 0.60], 0.5)
    ci = stats.ttest_1samp(np.array([0.61, 0.63, 0.60]) - 0.5, 0.0).confidence_interval(0.95)
    assert v.test == "one-sample t" and v.state == "holds"
    assert v.interval == pytest.approx((ci.low, ci.high))
    # "a within 5% of b": a < 1.05 b
    assert (
        claims.compare("within 5%", [103.0, 103.2, 102.9], 1.05 * np.array([100.0, 100.0, 100.0]), claimed="less").state
        == "holds"
    )
    # margin shifts b: better by at least 1
    assert claims.compare("by 1", [3.0, 3.1, 2.9], [1.5, 1.6, 1.4], margin=1.0).state == "holds"
    assert claims.compare("by 2", [3.0, 3.1, 2.9], [1.5, 1.6, 1.4], margin=2.0).state == "fails"
    one = claims.compare("one", 5.23, 8.1, claimed="less")
    assert one.state == "unresolved" and one.interval is None and one.test == "one seed"
    assert "one seed" in one.line()


def test_unconverged_runs_are_marked_exact_claims_need_no_seeds():
    v = claims.compare("x", [1.0, 1.1, 0.9], [2.0, 2.1, 1.9], claimed="less", converged=False)
    assert v.state == "holds" and "not converged" in v.line()
    e = claims.exact("bound", True, "gap 0.0 <= log M / M", source="paper")
    assert e.state == "holds" and e.test == "exact"
    assert claims.exact("bound", False, "").state == "fails"


def test_render_records_expect():
    vs = [
        claims.compare(
            "paper claim",
            [1.0, 1.1, 0.9],
            [2.0, 2.2, 1.9],
            claimed="less",
            source="paper",
            statement="WiSE-ALE reconstructs better",
        ),
        claims.compare("our hypothesis", [1.0, 1.5, 0.5], [1.1, 0.9, 1.2], source="ours"),
    ]
    text = claims.render(vs, caption="*standard profile*")
    assert (
        text.index("The paper's claims") < text.index("paper claim") < text.index("Our hypotheses") < text.index("our hypothesis")
    )
    rec = claims.records(vs)
    json.dumps(rec)  # JSON-ready
    assert rec[0]["state"] == "holds" and rec[0]["source"] == "paper" and len(rec[0]["interval"]) == 2
    claims.expect(vs, {"paper claim": "holds", "our hypothesis": "unresolved"})
    with pytest.raises(AssertionError, match="expected fails, got holds"):
        claims.expect(vs, {"paper claim": "fails"})
    with pytest.raises(AssertionError, match="missing claim"):
        claims.expect(vs, {"nothing": "holds"})
    with pytest.raises(ValueError, match="expected states"):
        claims.expect(vs, {"paper claim": "true"})


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="non-finite"):
        claims.compare("x", [1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(ValueError, match="non-empty"):
        claims.compare("x", [], [1.0])
    with pytest.raises(ValueError, match="claimed"):
        claims.compare("x", [1.0], [1.0], claimed="better")
    with pytest.raises(ValueError, match="source"):
        claims.compare("x", [1.0], [1.0], source="book")


def test_mean_interval_matches_scipy():
    v = [0.684, 0.70, 0.69]
    mean, lo, hi = claims.mean_interval(v)
    ref = stats.t.interval(0.95, 2, loc=np.mean(v), scale=stats.sem(v))
    assert mean == pytest.approx(np.mean(v)) and (lo, hi) == pytest.approx(ref)
    assert claims.mean_interval([3.0]) == (3.0, None, None)


def test_seeded_pairs_methods_by_seed_and_quotes_the_reference_run():
    from wisetut.claims import Seeded

    per_seed = {
        "a": {0: {"err": 1.0, "lo": 3.0}, 1: {"err": 1.2, "lo": 3.1}, 2: {"err": 0.9, "lo": 2.9}},
        "b": {0: {"err": 2.0, "lo": 1.0}, 1: {"err": 2.4, "lo": 1.1}, 2: {"err": 1.9, "lo": 0.9}},
    }
    t = Seeded(
        per_seed, labels={"a": "A", "b": "B"}, converged={"a": True, "b": False}, reference={"a": {"err": 0.5}, "b": {"err": 0.7}}
    )
    v = t.compare("a beats b", "a", "b", "err", claimed="less", source="paper")
    diffs = np.array([-1.0, -1.2, -1.0])
    ci = stats.ttest_1samp(diffs, 0.0).confidence_interval(0.95)
    assert v.state == "holds" and v.test == "paired t" and v.converged is False
    assert np.allclose(v.interval, (ci.low, ci.high))
    assert "A 1.033 against B 2.1" in v.numbers and "(main run: 0.5 against 0.7)" in v.numbers
    same = t.compare("a's lo beats its err", "a", "a", "lo", claimed="greater", b_key="err")
    assert same.state == "holds" and same.converged is True and "A err" in same.numbers
    scaled = t.compare("b over 3 times a", "b", "a", "err", claimed="greater", scale=3.0)
    assert scaled.state == "fails" and "3 × A" in scaled.numbers  # b is about twice a, not three times
    assert np.isclose(scaled.estimate, np.mean([2.0 - 3.0, 2.4 - 3.6, 1.9 - 2.7]))
    mean, lo, hi = claims.mean_interval([1.0, 1.2, 0.9])
    assert t.cell("a", "err", ".3g") == f"{mean:.3g} [{lo:.3g}, {hi:.3g}]"
    with pytest.raises(ValueError, match="same seeds"):
        Seeded({"a": {0: {}}, "b": {1: {}}})


def test_interval_text_is_the_mean_and_its_t_interval():
    from scipy import stats

    v = [5.0, 5.4, 4.9]
    lo, hi = stats.t.interval(0.95, 2, loc=np.mean(v), scale=stats.sem(v))
    assert claims.interval_text(v, ".3f") == f"{np.mean(v):.3f} [{lo:.3f}, {hi:.3f}]"
    assert claims.interval_text([2.0], ".2f") == "2.00"  # one seed: the value alone
    assert claims.interval_text([1.0, 1.0], "+.1f") == "+1.0 [+1.0, +1.0]"
    assert claims.interval_text([60.8, float("inf")], ".3g") == "60.8, inf (each seed)"  # no mean to show


def test_the_claims_page_lists_every_stored_verdict_and_nothing_else():
    """book/claims.md is what wisetut.claims.claims_page makes of book/results/*.json: each verdict once."""
    import json
    from pathlib import Path

    from wisetut.claims import claims_page, judged

    root = Path(__file__).resolve().parents[1]
    results = root / "book" / "results"
    page = (root / "book" / "claims.md").read_text()
    assert page == claims_page(results), "run python tools/claims_page.py"
    stored = []  # every verdict of every file, in its top record or a record nested one deep (chapter 6's squares)
    for p in sorted(results.glob("*.json")):
        record = json.loads(p.read_text())
        if isinstance(record, dict):
            for part in [record] + [v for v in record.values() if isinstance(v, dict)]:
                stored += [(p.name, v["name"]) for v in part.get("verdicts", [])]
    rows = judged(results)
    assert sorted((r["results"], r["name"]) for r in rows) == sorted(stored) and len(stored) > 100
    table_rows = [line for line in page.splitlines() if line.startswith("| ") and not line.startswith("| claim |")]
    assert len(table_rows) == len(stored)
    for r in rows:  # each verdict's row names its chapter and its state
        assert any(
            line.startswith(f"| {r['name'].replace('|', chr(92) + '|')}")
            and f"**{r.get('flag') or r['state']}**" in line  # a flagged verdict shows its flag
            and f"]({r['chapter']}.ipynb)" in line
            for line in table_rows
        ), r["name"]


# --- declared claims: p-values, Holm's adjustment, margins from the reference's spread, flags -----------------


def test_p_value_is_scipys_paired_t_test():
    a, b = [1.0, 1.4, 1.1, 1.6, 1.2], [0.9, 1.0, 1.05, 1.2, 1.1]
    v = claims.compare("x", a, b, paired=True)
    assert v.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-12)
    w = claims.compare("x", a, b)
    assert w.p_value == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-12)


def test_holm_adjustment_by_hand_and_per_family():
    # three claims of one family with p = 0.01, 0.04, 0.03: Holm compares 0.01 with 0.05/3, 0.03 with 0.05/2, 0.04 with 0.05
    # adjusted p: 0.03, then max(0.03, 2 * 0.03) = 0.06 for both others, so only the first keeps its decision
    def verdict(name, p, family):
        return claims.Verdict(
            name, "holds", "paper", "", "greater", 1.0, (0.1, 2.0), "paired t", 5, True, "", p_value=p, family=family
        )

    out = claims.adjust(
        [verdict("a", 0.01, "paper"), verdict("b", 0.04, "paper"), verdict("c", 0.03, "paper"), verdict("d", 0.04, "ours")]
    )
    assert [v.p_adjusted for v in out] == pytest.approx([0.03, 0.06, 0.06, 0.04])
    assert [v.state for v in out] == ["holds", "unresolved", "unresolved", "holds"]  # "d" is alone in its family
    assert [v.raw_state for v in out] == ["holds"] * 4
    assert "Holm-adjusted p = 0.06" in out[1].line() and "(unadjusted: holds)" in out[1].line()


def _table(values: dict[str, list[float]], key="m") -> claims.Seeded:
    return claims.Seeded({name: {s: {key: v} for s, v in enumerate(vs)} for name, vs in values.items()})


def test_margin_is_the_reference_arms_spread():
    ref = [1.0, 1.2, 1.1, 1.3, 1.05]
    table = _table({"a": [1.15, 1.3, 1.2, 1.4, 1.12], "ref": ref, "c": [3.0, 3.1, 3.2, 3.3, 3.05]})
    margin = claims.Margin(1.0, "one spread")
    assert margin.size(ref) == pytest.approx(np.std(ref, ddof=1))
    c = claims.Claim("a as small as ref", "paper", "", "a", "ref", "m", "less", margin=margin)
    (v,) = table.judge([c])
    assert v.margin == pytest.approx(np.std(ref, ddof=1))  # "less": b shifted up by the margin
    assert v.estimate == pytest.approx(np.mean(table.values("a", "m")) - np.mean(ref) - np.std(ref, ddof=1))
    g = claims.Claim("a as large as ref", "ours", "", "a", "ref", "m", "greater", margin=margin)
    (w,) = table.judge([g])
    assert w.margin == pytest.approx(-np.std(ref, ddof=1)) and w.family == "ours" and w.declared == "before the runs"


def test_a_measure_that_tells_no_arms_apart_is_uninformative():
    rng = np.random.default_rng(0)
    noise = {name: list(1 + 0.05 * rng.standard_normal(5)) for name in ("a", "b", "c")}
    table = _table(noise)
    assert not table.informative("m")
    (v,) = table.judge([claims.Claim("a as small as b", "paper", "", "a", "b", "m", "less", margin=claims.Margin(3.0, "wide"))])
    assert v.flag == "uninformative" and "uninformative" in v.line() and "holds" not in v.line()
    spread = _table({**noise, "c": [5.0, 5.1, 5.2, 5.05, 5.15]})
    assert spread.informative("m")


def test_collapsed_arm_makes_a_claim_near_guaranteed_and_trend_settles():
    table = _table({"a": [1.0, 1.1, 1.05, 1.02, 1.08], "b": [2.0, 2.2, 2.1, 2.05, 2.15]})
    c = claims.Claim("a below b", "paper", "", "a", "b", "m", "less")
    (v,) = table.judge([c], collapsed={"b": "b's posteriors collapsed"})
    assert v.flag == "near-guaranteed" and v.state == "holds" and v.shown == "near-guaranteed"
    declared = claims.Claim("a below b", "paper", "", "a", "b", "m", "less", near_guaranteed="b collapses")
    (d,) = table.judge([declared])  # declared with the claim, before the runs
    assert d.flag == "near-guaranteed" and d.flag_reason == "b collapses" and d.state == "holds"
    (s,) = table.judge([c], changes={("a", "m"): 0.01, ("b", "m"): 0.01})
    assert s.settled is True and s.flag == ""
    (u,) = table.judge([c], changes={("a", "m"): 0.8, ("b", "m"): 0.8})
    assert u.settled is False


def test_p_value_rebuilt_from_a_stored_interval():
    for a, b, paired in (([1.0, 1.4, 1.1, 1.6], [0.9, 1.0, 1.05, 1.2], True), ([2.0, 2.5, 2.2], 1.5, False)):
        v = claims.compare("x", a, b, paired=paired)
        assert claims.p_from_interval(v.as_record()) == pytest.approx(v.p_value, rel=1e-9)
    welch = claims.compare("x", [1.0, 1.4, 1.1, 1.6], [0.5, 0.7, 0.9, 0.6])
    assert claims.p_from_interval(welch.as_record()) >= welch.p_value  # fewer degrees of freedom: conservative
    assert claims.p_from_interval(claims.exact("e", True, "").as_record()) is None


def test_a_declared_claim_may_scale_b_or_compare_two_measures_of_the_same_runs():
    table = claims.Seeded(
        {
            "a": {s: {"m": 1.0 + 0.01 * s, "low": 3.0 + 0.02 * s} for s in range(5)},
            "b": {s: {"m": 0.9 + 0.02 * s, "low": 1.0} for s in range(5)},
        }
    )
    scaled, parts = table.judge(
        [
            claims.Claim("a below 1.25 x b", "ours", "", "a", "b", "m", "less", scale=1.25),
            claims.Claim("a's low part above its rest", "ours", "", "a", "a", "low", "greater", b_measure="m"),
        ]
    )
    assert scaled.state == "holds" and "1.25 ×" in scaled.numbers  # 1.02 against 1.25 x 0.94
    assert parts.state == "holds"  # 3.04 against 1.02, paired by seed
    assert table.judge([claims.Claim("a below b", "ours", "", "a", "b", "m", "less")])[0].state == "fails"
    some = claims.Seeded({**table.per_seed, "c": {s: {"m": 5.0 + 0.01 * s} for s in range(5)}})  # c has no "low"
    assert some.informative("low") and some.judge([claims.Claim("x", "ours", "", "a", "b", "low", "greater")])[0].flag == ""
    with pytest.raises(ValueError, match="with itself"):
        claims.Claim("a vs a", "ours", "", "a", "a", "m", "less")
