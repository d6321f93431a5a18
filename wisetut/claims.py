"""Verdicts on claims about trained models: **holds**, **fails** or **unresolved**, over seeds.

A claim (a sentence of the paper, or a hypothesis of the book) compares two *arms*, a number per seed each,
or one arm against a fixed threshold, in a claimed direction. One run per arm cannot tell a real gap from the
spread between seeds (Henderson et al., 2018; Lucic et al., 2018), so a claim is judged by a 95% confidence
interval of the difference (:mod:`scipy.stats`): a paired t interval when the arms' seeds are matched,
Welch's t interval otherwise, a one-sample t interval against a threshold. **holds**: the interval excludes
zero on the claimed side; **fails**: on the other side; **unresolved**: it contains zero, or one seed only.

:func:`exact` judges a claim that is exact math, with no seeds. A verdict on runs that failed the book's
convergence criterion (:func:`wisetut.results.convergence`) keeps its state and is marked *not converged*.
:func:`render` writes the list a chapter shows, :func:`records` the list a results file stores, and
:func:`expect` asserts the states a chapter expects, so that a re-run that disagrees fails loudly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
from scipy import stats

__all__ = [
    "Claim",
    "Margin",
    "Verdict",
    "STATES",
    "SOURCES",
    "compare",
    "exact",
    "render",
    "records",
    "expect",
    "mean_interval",
    "interval_text",
    "Seeded",
    "trend",
    "settled",
    "judged",
    "claims_page",
]

STATES = ("holds", "fails", "unresolved")
SOURCES = ("paper", "wae_slides", "bodin", "ours")  # the paper, the WAE slides, Bodin et al. (2017), the book's own
_MARK = {"holds": "✅ holds", "fails": "❌ fails", "unresolved": "❔ unresolved"}
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Verdict:
    """The judgement of one claim.

    Attributes:
        name: a short label, unique within a chapter (the key :func:`expect` uses).
        state: ``"holds"``, ``"fails"`` or ``"unresolved"``.
        source: ``"paper"`` (a claim the paper makes; ``statement`` quotes it) or ``"ours"``.
        statement: the paper's sentence, or our hypothesis in words.
        claimed: ``"greater"`` or ``"less"``: the claimed sign of ``estimate``; ``"exact"`` for :func:`exact`.
        estimate: the mean difference ``a - b`` (``None`` for :func:`exact`).
        interval: its 95% confidence interval, ``None`` with one seed or for :func:`exact`.
        test: how the interval was made (``"paired t"``, ``"Welch t"``, ``"one-sample t"``, ``"exact"``, ``"one seed"``).
        n: seeds per arm (the smaller arm's count).
        converged: whether the runs behind the claim met the convergence criterion (``None``: not stated).
        numbers: the per-arm numbers in words, as the chapter shows them.
        p_value: the two-sided p-value of the interval's test (``None`` without an interval).
        family: the claims adjusted together (``""``: not adjusted); see :func:`adjust`.
        p_adjusted: ``p_value`` after Holm's adjustment within the family; ``state`` is decided by it.
        raw_state: the state before the adjustment (``""``: not adjusted).
        margin: the margin's size (``b`` was shifted by it) and ``margin_reason`` why it has one.
        flag: ``"uninformative"`` (the measure tells no two arms apart) or ``"near-guaranteed"`` (against
            a collapsed arm): such a verdict is shown by its flag and never counted as support.
        settled: whether more training could not move the verdict (:func:`settled`; ``None``: not judged).
        declared: when the claim was declared (:class:`Claim`).
    """

    name: str
    state: str
    source: str
    statement: str
    claimed: str
    estimate: float | None
    interval: tuple[float, float] | None
    test: str
    n: int
    converged: bool | None
    numbers: str
    p_value: float | None = None
    family: str = ""
    p_adjusted: float | None = None
    raw_state: str = ""
    margin: float = 0.0
    margin_reason: str = ""
    flag: str = ""
    flag_reason: str = ""
    settled: bool | None = None
    declared: str = ""

    @property
    def shown(self) -> str:
        """The state a reader sees: the flag for a flagged verdict, else the state."""
        return self.flag or self.state

    def line(self) -> str:
        """One Markdown bullet: the state, the claim, the numbers and the interval."""
        detail = self.numbers
        if self.interval is not None:
            lo, hi = self.interval
            detail += f"; difference {self.estimate:+.3g}, 95% interval [{lo:+.3g}, {hi:+.3g}] ({self.test}, {self.n} seeds)"
        elif self.test == "one seed":
            detail += "; one seed: no interval"
        if self.margin:
            detail += f"; margin {abs(self.margin):.3g} ({self.margin_reason})"
        if self.family and self.p_adjusted is not None:
            detail += f"; Holm-adjusted p = {self.p_adjusted:.2g} in the family '{self.family}'" + (
                f" (unadjusted: {self.raw_state})" if self.raw_state != self.state else ""
            )
        if self.flag:
            detail += f"; not counted: {self.flag_reason}"
        notes = " *(not converged)*" if self.converged is False else ""
        notes += {True: " *(settled)*", False: " *(not settled)*"}.get(self.settled, "")
        mark = f"⚪ {self.flag}" if self.flag else _MARK[self.state]
        return f"- **{mark}**{notes}: {self.name}. {detail}"

    def as_record(self) -> dict:
        """The verdict as a JSON-ready dict (the ``verdicts`` list of a results file)."""
        d = asdict(self)
        d["interval"] = list(self.interval) if self.interval is not None else None
        return d


@dataclass(frozen=True)
class Margin:
    """How far ``a`` may fall on the wrong side of ``b`` and still "be as good": a claim of the form "as smooth as".

    ``spread`` multiples of the reference arm's seed-to-seed standard deviation (its ``ddof=1`` spread of
    the measure over the seeds): a gap smaller than the spread between two seeds of the reference itself
    is not one a reader could tell from a single run. The size is a rule fixed before the runs; its value
    is measured on them.
    """

    spread: float
    reason: str

    def size(self, reference: Sequence[float]) -> float:
        v = _values(reference, "reference")
        return float(self.spread * v.std(ddof=1)) if len(v) > 1 else 0.0


@dataclass(frozen=True)
class Claim:
    """A claim declared in the experiment registry before its runs are trained (:mod:`wisetut.runs`).

    Attributes:
        name: a short label, unique within the experiment.
        source: where the claim comes from (:data:`SOURCES`): the paper, the WAE slides, Bodin et al., or ours.
        statement: the source's sentence, or our hypothesis in words.
        a, b: the arms (run names); the claim is about ``a`` against ``b``, paired by seed.
        measure: the per-seed key both arms are scored by.
        claimed: ``"greater"`` or ``"less"``: the claimed sign of ``a - b``.
        margin: for "as ... as" claims only, a :class:`Margin` (``b`` shifted against the claimed side).
        family: the claims judged together (their decisions Holm-adjusted together): ``"paper"`` for the
            sources' claims of a chapter, ``"ours"`` for the book's own hypotheses.
        declared: ``"before the runs"``, or when it was added after the results were seen.
        near_guaranteed: why the claim can barely fail (an arm known to collapse before the runs), or
            ``""``: such a verdict is flagged near-guaranteed and not counted as support.
        b_measure: ``b``'s measure where it is not ``measure`` (two parts of the same runs' data: ``a == b``).
        scale: ``b``'s values are multiplied by it ("below 1.25 x b's"); fixed with the claim, like a margin.
    """

    name: str
    source: str
    statement: str
    a: str
    b: str
    measure: str
    claimed: str
    margin: Margin | None = None
    family: str = ""
    declared: str = "before the runs"
    near_guaranteed: str = ""
    b_measure: str | None = None
    scale: float = 1.0

    def __post_init__(self):
        _check_meta(self.source, self.claimed)
        if self.a == self.b and self.b_measure in (None, self.measure):
            raise ValueError(f"claim {self.name!r} compares {self.a!r} with itself: give b_measure, another measure of its runs")
        if not self.family:
            object.__setattr__(self, "family", "ours" if self.source == "ours" else "paper")


def _values(x, label: str) -> np.ndarray:
    v = np.atleast_1d(np.asarray(x, dtype=float))
    if v.ndim != 1 or len(v) == 0:
        raise ValueError(f"{label} must be a number or a non-empty 1-D sequence of per-seed values, got {x!r}")
    if not np.isfinite(v).all():
        raise ValueError(f"{label} has non-finite values: {v.tolist()}")
    return v


def _check_meta(source: str, claimed: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if claimed not in ("greater", "less"):
        raise ValueError(f"claimed must be 'greater' or 'less', got {claimed!r}")


def _t_interval(diffs: np.ndarray, confidence: float) -> tuple[float, float]:
    """t interval of the mean of ``diffs``; zero spread gives the point itself."""
    mean = float(diffs.mean())
    if np.ptp(diffs) == 0:
        return mean, mean
    # the interval of scipy.stats.ttest_1samp, from its t distribution and standard error (ttest_1samp itself
    # warns of "catastrophic cancellation" when the differences are nearly equal, as a near-saturated measure's are)
    lo, hi = stats.t.interval(confidence, len(diffs) - 1, loc=mean, scale=stats.sem(diffs))
    return float(lo), float(hi)


def _t_test(diffs: np.ndarray, confidence: float) -> tuple[tuple[float, float], float]:
    """:func:`_t_interval` and the two-sided p-value of "the mean of ``diffs`` is zero" (0 or 1 for zero spread)."""
    if np.ptp(diffs) == 0:
        return _t_interval(diffs, confidence), float(diffs[0] == 0)
    sem = stats.sem(diffs)
    return _t_interval(diffs, confidence), float(2 * stats.t.sf(abs(diffs.mean()) / sem, len(diffs) - 1))


def compare(
    name: str,
    a,
    b,
    *,
    claimed: str = "greater",
    paired: bool = False,
    margin: float = 0.0,
    source: str = "ours",
    statement: str = "",
    converged: bool | None = None,
    numbers: str | None = None,
    confidence: float = CONFIDENCE,
) -> Verdict:
    """Judge the claim "``a`` is ``claimed`` than ``b + margin``" over seeds.

    Args:
        name: the claim's short label.
        a: per-seed values of the first arm (a number counts as one seed).
        b: per-seed values of the second arm, or a single number: a fixed threshold (the
            interval is then a one-sample t interval of ``a - b``).
        claimed: ``"greater"`` or ``"less"``.
        paired: the arms' seeds are matched one to one (same length, same order): a paired t
            interval of the differences; else Welch's t interval (:func:`scipy.stats.ttest_ind`
            with ``equal_var=False``).
        margin: shifts ``b``: "within 5% of b" is ``compare(..., a, 1.05 * b, claimed="less")``,
            "better by at least 1" is ``margin=1``.
        source: ``"paper"`` or ``"ours"``; statement: the paper's sentence or our hypothesis.
        converged: whether the runs met the convergence criterion (marks the verdict).
        numbers: the numbers in words; defaults to the arms' means.

    Returns:
        A :class:`Verdict`; with one seed in an arm it is ``"unresolved"`` with no interval.
    """
    _check_meta(source, claimed)
    va = _values(a, "a")
    threshold = np.ndim(b) == 0
    vb = _values(b, "b") + margin
    if paired and not threshold and len(va) != len(vb):
        raise ValueError(f"paired=True needs as many values in a as in b, got {len(va)} and {len(vb)}")
    n = len(va) if threshold else min(len(va), len(vb))
    estimate = float(va.mean() - vb.mean())
    if numbers is None:
        numbers = f"{va.mean():.4g} against {vb.mean():.4g}" + (f" (b + {margin:g})" if margin else "")
    if n < 2:
        return Verdict(
            name, "unresolved", source, statement, claimed, estimate, None, "one seed", n, converged, numbers, margin=margin
        )
    if threshold:
        (interval, p), test = _t_test(va - vb[0], confidence), "one-sample t"
    elif paired:
        (interval, p), test = _t_test(va - vb, confidence), "paired t"
    else:
        if np.ptp(vb) == 0:  # Welch's interval with one constant arm is the other's one-sample interval
            interval, p = _t_test(va - vb[0], confidence)
        elif np.ptp(va) == 0:
            interval, p = _t_test(va[0] - vb, confidence)
        else:
            result = stats.ttest_ind(va, vb, equal_var=False)
            ci = result.confidence_interval(confidence)
            interval, p = (float(ci.low), float(ci.high)), float(result.pvalue)
        test = "Welch t"
    lo, hi = interval
    sign = 1.0 if claimed == "greater" else -1.0
    if (lo > 0 and sign > 0) or (hi < 0 and sign < 0):
        state = "holds"
    elif (hi < 0 and sign > 0) or (lo > 0 and sign < 0):
        state = "fails"
    else:
        state = "unresolved"
    return Verdict(
        name, state, source, statement, claimed, estimate, interval, test, n, converged, numbers, p_value=p, margin=margin
    )


def exact(
    name: str, ok: bool, numbers: str, *, source: str = "ours", statement: str = "", converged: bool | None = None
) -> Verdict:
    """A claim that is exact math (an identity or a bound checked to rounding): holds or fails, no seeds."""
    _check_meta(source, "greater")
    return Verdict(name, "holds" if ok else "fails", source, statement, "exact", None, None, "exact", 0, converged, numbers)


def render(verdicts: Iterable[Verdict], caption: str = "") -> str:
    """Markdown for a chapter: the paper's claims and our hypotheses as two lists.

    ``caption`` (for example the profile, data and device) opens the text.
    """
    verdicts = list(verdicts)
    parts = [caption] if caption else []
    sources = "**The paper's claims**" if {v.source for v in verdicts} <= {"paper", "ours"} else "**The sources' claims**"
    for theirs, title in ((True, sources), (False, "**Our hypotheses**")):
        lines = [v.line() for v in verdicts if (v.source != "ours") == theirs]
        if lines:
            parts.append(title + "\n\n" + "\n".join(lines))
    return "\n\n".join(parts)


def adjust(verdicts: Iterable[Verdict], alpha: float = 1 - CONFIDENCE) -> list[Verdict]:
    """Holm's adjustment of the verdicts' decisions, one family at a time (``statsmodels``' ``multipletests``).

    Within a family of ``m`` claims judged together, a claim holds or fails only when its p-value,
    Holm-adjusted, is below ``alpha``: the chance that any of the family's decisions is wrong stays
    below ``alpha``, where deciding each at ``alpha`` alone lets it grow with ``m``. A decision the
    adjustment withdraws becomes ``unresolved`` (``raw_state`` keeps the unadjusted one). Verdicts
    without a p-value (one seed, exact checks) or without a family are returned unchanged.
    """
    from statsmodels.stats.multitest import multipletests

    verdicts = list(verdicts)
    out = list(verdicts)
    for family in dict.fromkeys(v.family for v in verdicts if v.family):
        idx = [i for i, v in enumerate(verdicts) if v.family == family and v.p_value is not None]
        if not idx:
            continue
        reject, p_adj, _, _ = multipletests([verdicts[i].p_value for i in idx], alpha=alpha, method="holm")
        for i, r, pa in zip(idx, reject, p_adj):
            v = verdicts[i]
            out[i] = replace(v, state=v.state if r else "unresolved", p_adjusted=float(pa), raw_state=v.state)
    return out


def records(verdicts: Iterable[Verdict]) -> list[dict]:
    """The verdicts as JSON-ready dicts (a results file's ``verdicts``)."""
    return [v.as_record() for v in verdicts]


def expect(verdicts: Iterable[Verdict], expected: dict[str, str]) -> None:
    """Assert that each named claim has the expected state; every mismatch is listed.

    Raises:
        AssertionError: listing each claim whose state differs, and any name that is missing.
        ValueError: for a state that is not one of :data:`STATES`.
    """
    by_name = {v.name: v for v in verdicts}
    bad = [f"{s!r} for {k!r}" for k, s in expected.items() if s not in STATES]
    if bad:
        raise ValueError(f"expected states must be one of {STATES}: got {', '.join(bad)}")
    problems = [f"missing claim {k!r}" for k in expected if k not in by_name]
    problems += [
        f"{k!r}: expected {s}, got {by_name[k].state} ({by_name[k].numbers})"
        for k, s in expected.items()
        if k in by_name and by_name[k].state != s
    ]
    assert not problems, "verdicts differ from the stored run's:\n" + "\n".join(problems)


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float | None, float | None]:
    """The mean of per-seed values and its t confidence interval (``None`` bounds for one value).

    This is what a results table shows for a metric over seeds (mean and 95% interval).
    """
    v = _values(values, "values")
    mean = float(v.mean())
    if len(v) < 2:
        return mean, None, None
    sem = float(stats.sem(v))
    if not sem > 0:  # equal values, or a spread below what a float can hold (tiny measures)
        return mean, mean, mean
    lo, hi = stats.t.interval(confidence, len(v) - 1, loc=mean, scale=sem)
    return mean, float(lo), float(hi)


def interval_text(values: Sequence[float], fmt: str = ".3g", confidence: float = CONFIDENCE) -> str:
    """The mean of per-seed values and its interval as a table cell shows it: ``"5.2 [4.9, 5.5]"`` (the mean alone for one value).

    Values that are not all finite (an infinite ratio of one seed) have no mean: each seed's value is
    shown instead, ``"60.8, 1.36e+04, inf (each seed)"``.
    """
    if not np.isfinite(np.asarray(values, dtype=float)).all():
        return ", ".join(f"{float(v):{fmt}}" for v in values) + " (each seed)"
    mean, lo, hi = mean_interval(values, confidence)
    return f"{mean:{fmt}}" + (f" [{lo:{fmt}}, {hi:{fmt}}]" if lo is not None else "")


class Seeded:
    """Per-seed measures of several methods, and the paired claims and table cells made from them.

    ``per_seed[method][seed][key]`` is a number (a held-out error, an ELBO, ...); every method must
    have the same seeds, so that two methods' values pair up seed by seed (the same seed gave both
    runs their initial weights, batches and noise). ``converged[method]`` says whether all of a
    method's seeds met the convergence criterion; ``labels`` names the methods in the text, and
    ``reference`` holds one more run's values per method (a chapter's main run at another setting),
    quoted beside the seeds but not part of any interval. Introduced in chapter 4.
    """

    def __init__(
        self,
        per_seed: dict,
        *,
        labels: dict[str, str] | None = None,
        converged: dict[str, bool] | None = None,
        reference: dict[str, dict[str, float]] | None = None,
        reference_label: str = "main run",
    ):
        seeds = {name: tuple(by_seed) for name, by_seed in per_seed.items()}
        if len(set(seeds.values())) > 1:
            raise ValueError(f"every method needs the same seeds to pair them, got {seeds}")
        self.per_seed, self.seeds = per_seed, next(iter(seeds.values()), ())
        self.labels, self.converged = labels or {}, converged or {}
        self.reference, self.reference_label = reference or {}, reference_label

    def label(self, name: str) -> str:
        return self.labels.get(name, name)

    def values(self, name: str, key: str) -> list[float]:
        """``key`` of ``name``, one value per seed, in seed order."""
        return [self.per_seed[name][s][key] for s in self.seeds]

    def cell(self, name: str, key: str, fmt: str = ".3g") -> str:
        """The mean over seeds and its 95% interval, as a table shows it: ``"5.2 [4.9, 5.5]"``."""
        return interval_text(self.values(name, key), fmt)

    def compare(
        self,
        name: str,
        a: str,
        b: str,
        key: str,
        claimed: str,
        source: str = "ours",
        statement: str = "",
        *,
        b_key: str | None = None,
        scale: float = 1.0,
        margin: float = 0.0,
    ) -> Verdict:
        """The paired claim "``a``'s ``key`` is ``claimed`` than ``scale`` times ``b``'s ``b_key``" (default: ``key``).

        ``a == b`` with another ``b_key`` compares two measures of the same runs (an error on one
        part of the data against the rest). ``margin`` shifts ``b`` as in :func:`compare`. The
        verdict is marked converged when both methods are.
        """
        b_key = b_key or key
        va, vb = self.values(a, key), [scale * v for v in self.values(b, b_key)]
        scaled = "" if scale == 1 else f"{scale:g} × "
        right = f"{self.label(b)} {b_key}" if b_key != key else self.label(b)
        numbers = f"{key}: {self.label(a)} {np.mean(va):.4g} against {scaled}{right} {np.mean(vb) / scale:.4g}"
        ref_a, ref_b = self.reference.get(a, {}).get(key), self.reference.get(b, {}).get(b_key)
        if ref_a is not None and ref_b is not None:
            numbers += f" ({self.reference_label}: {ref_a:.4g} against {scaled}{ref_b:.4g})"
        ok = [self.converged.get(n) for n in (a, b)]
        return compare(
            name,
            va,
            vb,
            claimed=claimed,
            paired=True,
            margin=margin,
            source=source,
            statement=statement,
            converged=None if None in ok else all(ok),
            numbers=numbers,
        )

    def informative(self, key: str, names: Sequence[str] | None = None) -> bool:
        """Whether ``key`` tells any two of ``names`` (default: every method) apart: a paired 95% interval off zero.

        A measure on which no two arms differ cannot support a claim that two arms are alike: such a
        claim is *uninformative*, not holding.
        """
        if names is None:  # the methods that have the measure (some measures exist for some runs only)
            names = [n for n, by_seed in self.per_seed.items() if all(key in by_seed[s] for s in self.seeds)]
        names = list(names)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                if compare("pair", self.values(a, key), self.values(b, key), paired=True).state != "unresolved":
                    return True
        return False

    def judge(
        self,
        declared: Iterable[Claim],
        *,
        changes: dict[tuple[str, str], float] | None = None,
        collapsed: dict[str, str] | None = None,
    ) -> list[Verdict]:
        """The verdicts of the claims an experiment declared (:class:`Claim`), Holm-adjusted per family.

        Args:
            declared: the experiment's claims (``wisetut.runs.experiment(name).claims``), nothing else.
            changes: ``(method, measure) -> `` the largest :func:`trend` change over the method's seeds,
                for measures with a training curve: a verdict whose two arms both have one is marked
                settled or not (:func:`settled`); others are not judged for it.
            collapsed: ``method -> why`` for arms whose posteriors collapsed: a claim against one is
                near-guaranteed, shown as such and not counted as support.

        A claim whose measure tells no two methods apart (:meth:`informative`) is flagged uninformative
        (not a claim on two measures, ``b_measure``, which ranks no methods).
        """
        changes, collapsed = changes or {}, collapsed or {}
        informative = {}
        verdicts = []
        for c in declared:
            size = c.margin.size(self.values(c.b, c.b_measure or c.measure)) if c.margin else 0.0
            shift = size if c.claimed == "less" else -size  # "a at most size worse than b"
            v = self.compare(
                c.name, c.a, c.b, c.measure, c.claimed, c.source, c.statement, b_key=c.b_measure, scale=c.scale, margin=shift
            )
            flag, why = "", ""
            if c.b_measure is None and c.measure not in informative:
                informative[c.measure] = self.informative(c.measure)
            if c.b_measure is None and not informative[c.measure]:  # two measures of the same runs: not a ranking
                flag, why = "uninformative", f"{c.measure} tells no two of the {len(self.per_seed)} methods apart"
            elif c.near_guaranteed:
                flag, why = "near-guaranteed", c.near_guaranteed
            elif c.b in collapsed or c.a in collapsed:
                flag, why = "near-guaranteed", collapsed.get(c.b) or collapsed.get(c.a)
            arms = [changes.get((m, c.measure)) for m in (c.a, c.b)]
            done = None if None in arms or v.interval is None else settled(v.interval, arms)
            verdicts.append(
                replace(
                    v,
                    family=c.family,
                    margin=shift,
                    margin_reason=c.margin.reason if c.margin else "",
                    flag=flag,
                    flag_reason=why,
                    settled=done,
                    declared=c.declared,
                )
            )
        return adjust(verdicts)


# --- convergence by trend ------------------------------------------------------------------------------------


def trend(values: Sequence[float], fraction: float = 0.2, horizon: float = 0.2) -> dict:
    """Where a held-out curve is heading: a straight line through its last ``fraction`` of epochs.

    ``scipy.stats.linregress`` over the last ``ceil(fraction * epochs)`` epochs (at least 3) gives the
    slope and its standard error; extrapolated over another ``horizon`` of the run's epochs, the curve
    could still change by ``change = (|slope| + 1.96 se) * horizon * epochs`` (a 95% bound). A noisy
    but flat curve has a small slope and a large standard error over few points, a steadily falling
    one a large slope: unlike comparing two end points, noise from one epoch to the next does not
    decide it.

    Returns:
        ``{"epochs", "window", "slope", "slope_se", "horizon_epochs", "change"}``. A curve of fewer than 3
        epochs (the ``quick`` profile's) has no line to fit: its slope is NaN and its ``change`` infinite,
        so no verdict on it is settled.

    Raises:
        ValueError: for an empty curve, non-finite values, or settings outside (0, 1].
    """
    v = np.asarray([float(x) for x in values])
    if len(v) == 0 or not np.isfinite(v).all():
        raise ValueError(f"need a curve of finite values, got {list(v)}")
    if not (0 < fraction <= 1 and 0 < horizon <= 1):
        raise ValueError(f"need 0 < fraction <= 1 and 0 < horizon <= 1, got {fraction} and {horizon}")
    if len(v) < 3:
        return {
            "epochs": len(v),
            "window": len(v),
            "slope": math.nan,
            "slope_se": math.nan,
            "horizon_epochs": horizon * len(v),
            "change": math.inf,
        }
    window = min(len(v), max(3, math.ceil(fraction * len(v))))
    fit = stats.linregress(np.arange(window, dtype=float), v[-window:])
    horizon_epochs = horizon * len(v)
    return {
        "epochs": len(v),
        "window": window,
        "slope": float(fit.slope),
        "slope_se": float(fit.stderr),
        "horizon_epochs": horizon_epochs,
        "change": (abs(fit.slope) + 1.96 * fit.stderr) * horizon_epochs,
    }


def settled(interval: Sequence[float], changes: Sequence[float], margin: float = 0.0) -> bool:
    """Whether more training could not move a verdict's interval across ``margin`` (zero by default).

    ``interval`` is the verdict's interval of the difference between two arms; ``changes`` the
    :func:`trend` bounds of each arm (per arm, the largest over its seeds). Together they can shift the
    difference by ``sum(changes)``. A holding or failing verdict (``margin`` outside the interval) is
    settled when that shift cannot bring ``margin`` inside it; an unresolved one (``margin`` inside)
    when the shift cannot push ``margin`` out.
    """
    lo, hi = (float(x) for x in interval)
    shift = float(sum(abs(c) for c in changes))
    if lo > margin:
        return lo - shift > margin
    if hi < margin:
        return hi + shift < margin
    return shift < min(margin - lo, hi - margin)


# --- the page of every claim judged -------------------------------------------------------------------------


def _parts(record: dict) -> list[dict]:
    """A results record and the records nested in it (chapters 10 and 11 keep one per data set)."""
    return [record] + [v for v in record.values() if isinstance(v, dict) and isinstance(v.get("data"), dict)]


def _data_and_seeds(record: dict) -> tuple[str, str]:
    names, seeds = [], set()
    for part in _parts(record):
        if isinstance(part.get("data"), dict) and part["data"].get("name") not in names:
            names.append(part["data"]["name"])
        seeds.update(part.get("settings", {}).get("seeds", []) if isinstance(part.get("settings"), dict) else [])
    return "; ".join(names) or "n/a", ", ".join(map(str, sorted(seeds))) or "n/a"


def _chapter_of(experiment: str) -> str:
    """The chapter (notebook stem) whose experiment wrote a results file: ``sine_seeds`` is chapter 4's."""
    from wisetut.runs import EXPERIMENTS  # here: runs imports this module's neighbours

    for e in EXPERIMENTS.values():
        if experiment == e.name or experiment.startswith(e.name + "_") or e.name.startswith(experiment + "_"):
            return e.chapters[0]
    raise ValueError(f"no chapter trains the experiment {experiment!r} of a results file")


def judged(results_dir) -> list[dict]:
    """Every verdict stored in ``results_dir/*.json`` (in a file's records nested one deep too), each with its chapter,
    data, profile and seeds, in chapter order."""
    from pathlib import Path

    rows = []
    for path in sorted(Path(results_dir).glob("*.json")):
        record = json.loads(path.read_text())
        if not isinstance(record, dict):
            continue
        for part in _parts(record):  # the file's verdicts, and those of a record nested in it (chapter 6's squares)
            if not part.get("verdicts"):
                continue
            data, seeds = _data_and_seeds(part)
            chapter = _chapter_of(record["experiment"])
            stored = [
                dict(v, chapter=chapter, results=path.name, data=data, profile=record.get("profile", "n/a"), seeds=seeds)
                for v in part["verdicts"]
            ]
            rows += _adjusted_here(stored)
    return sorted(rows, key=lambda r: r["chapter"])


def p_from_interval(record: dict, confidence: float = CONFIDENCE) -> float | None:
    """The two-sided p-value of a stored verdict, rebuilt from its estimate and t interval (``None`` without one).

    A t interval is ``estimate ± t * se`` with ``n - 1`` degrees of freedom (paired and one-sample t), which
    gives back ``se`` and so the p-value. Welch's degrees of freedom are not stored; ``n - 1`` is the fewest
    they can be, which makes the p-value larger: conservative.
    """
    if not record.get("interval") or record.get("estimate") is None or record.get("n", 0) < 2:
        return None
    lo, hi = record["interval"]
    df = record["n"] - 1
    se = (hi - lo) / (2 * stats.t.ppf(0.5 + confidence / 2, df))
    if se <= 0:
        return float(record["estimate"] == 0)
    return float(2 * stats.t.sf(abs(record["estimate"]) / se, df))


def _adjusted_here(rows: list[dict]) -> list[dict]:
    """One results file's verdicts, Holm-adjusted per family on the page where the chapter did not adjust them.

    The chapter's family (the sources' claims, or ours) and the p-value rebuilt by :func:`p_from_interval`;
    ``adjusted_on_page`` says that the decision is the page's, not the chapter's.
    """
    if any(r.get("family") for r in rows):
        return rows
    rebuilt = [
        Verdict(
            r["name"],
            r["state"],
            r["source"],
            "",
            r["claimed"],
            r.get("estimate"),
            None,
            r["test"],
            r["n"],
            None,
            "",
            p_value=p_from_interval(r),
            family="ours" if r["source"] == "ours" else "paper",
        )
        for r in rows
    ]
    return [
        dict(
            r,
            family=v.family,
            p_value=v.p_value,
            p_adjusted=v.p_adjusted,
            raw_state=v.raw_state,
            state=v.state,
            adjusted_on_page=v.p_adjusted is not None,
        )
        for r, v in zip(rows, adjust(rebuilt))
    ]


def claims_page(results_dir) -> str:
    """The Markdown page "The paper's claims, judged": every stored verdict, the sources' claims and ours apart."""
    rows = judged(results_dir)

    def cell(text) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    def shown(r: dict) -> str:
        return r.get("flag") or r["state"]

    def decision(r: dict) -> str:
        if r.get("p_adjusted") is not None:
            raw = f"; unadjusted: {r['raw_state']}" if r.get("raw_state") not in (None, "", r["state"]) else ""
            where = " (on this page, from the stored interval)" if r.get("adjusted_on_page") else ""
            return f"Holm within '{r['family']}'{where}, p = {r['p_adjusted']:.2g}{raw}"
        return "exact check" if r.get("test") == "exact" else "not adjusted"

    def table(source_rows: list[dict]) -> str:
        lines = [
            "| claim | chapter | data, profile, seeds | state | estimate [95% interval] | decision | converged; settled |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in source_rows:
            claim = cell(r["name"]) + (f" (*“{cell(r['statement'])}”*)" if r.get("statement") else "")
            if r.get("margin_reason"):
                claim += f"; margin {abs(r['margin']):.3g}: {cell(r['margin_reason'])}"
            if r.get("flag"):
                claim += f"; not counted: {cell(r['flag_reason'])}"
            lo, hi = r["interval"] if r.get("interval") else (None, None)
            estimate = "exact check" if lo is None else f"{r['estimate']:.3g} [{lo:.3g}, {hi:.3g}], {r['test']}, n = {r['n']}"
            number = int(r["chapter"][:2])
            trend = {True: "settled", False: "not settled"}.get(r.get("settled"), "not judged")
            lines.append(
                f"| {claim} | [{number}]({r['chapter']}.ipynb) | {cell(r['data'])}; `{r['profile']}`; seeds {r['seeds']} | "
                f"**{shown(r)}** | {estimate} | {decision(r)} | {'yes' if r.get('converged') else 'no'}; {trend} |"
            )
        return "\n".join(lines)

    theirs, ours = [r for r in rows if r["source"] != "ours"], [r for r in rows if r["source"] == "ours"]
    counts = lambda rs: ", ".join(
        f"{sum(shown(r) == s for r in rs)} {s}"  # noqa: E731
        for s in ("holds", "fails", "unresolved", "uninformative", "near-guaranteed")
        if any(shown(r) == s for r in rs)
    )
    return "\n".join(
        [
            "# The paper's claims, judged",
            "",
            "Every verdict the chapters store in `book/results/*.json`, in one place: made by",
            "`wisetut.claims.claims_page` (`python tools/claims_page.py` writes this page; a test checks that it lists",
            "every stored verdict and nothing else). A verdict **holds** or **fails** when the 95% interval of the",
            "difference between the arms, over the seeds, lies on one side of zero (or of the claim's margin), and is",
            "**unresolved** when the interval straddles it. Chapters that judge claims declared in the experiment",
            "registry (`wisetut.runs`) before their runs make the decisions of each family (the sources' claims of a",
            "chapter, and the book's own) Holm-adjusted, so that the chance of any wrong decision in the family stays",
            "below 5%. For chapters stored before that, this page makes the same adjustment from each stored",
            "interval (its p-value rebuilt from the estimate and the t interval; Welch's with the fewest degrees of",
            'freedom it can have, which is conservative): "decision" says which, and the chapter\'s own page shows',
            'its unadjusted state, given here as "unadjusted". A claim on a measure',
            "that tells no two methods apart is **uninformative**, one against an arm whose posteriors collapsed is",
            '**near-guaranteed**: neither is counted as support. "Converged" is the book\'s older rule (the held-out',
            'error moved by less than 2% over the last fifth of the epochs); "settled" means that the trend of the',
            "held-out curves, extrapolated over another fifth of training, could not move the verdict",
            "(`wisetut.claims.trend`). Each chapter explains its measures and numbers.",
            "",
            f"## The sources' claims ({len(theirs)}: {counts(theirs)})",
            "",
            "What the paper (and, in chapters 6 and 8, the WAE slides and Bodin et al.) claims, as the chapters test it.",
            "",
            table(theirs),
            "",
            f"## The book's own hypotheses ({len(ours)}: {counts(ours)})",
            "",
            "What the chapters asked beyond the sources' claims: controls, explanations, checks of our own choices.",
            "",
            table(ours),
            "",
        ]
    )
