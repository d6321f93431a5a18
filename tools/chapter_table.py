"""The chapters' tables of the README, the introduction and "Reproducing the book", from one file of timings.

``book/results/timings.json`` holds, per chapter and profile, the wall time of a run top to bottom in a
fresh kernel (``tools/run_chapters.py --record`` writes it; ``make reproduce`` records too), whether its
runs were trained or loaded, the machine's load, and how long its stored runs took to train. This
script writes the tables between the ``<!-- chapters:NAME -->`` and ``<!-- /chapters:NAME -->`` markers::

    python tools/chapter_table.py            # rewrite the tables in README.md and book/*.md
    python tools/chapter_table.py --check    # exit 1 if a table differs from what the timings give

``tests/test_book_tools.py`` runs the check, so no time is typed into a page by hand.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMINGS = ROOT / "book" / "results" / "timings.json"
PAGES = {"README.md": ("full",), "book/intro.md": ("compact",), "book/reproducing.md": ("full",)}

# chapter file stem -> (title, what it reproduces, in a line; "{seeds}" is read from its results file, SEEDS_FROM)
CHAPTERS = {
    "01_from_aevb_to_wise_ale": (
        "From AEVB to WiSE-ALE",
        "the two models, the aggregate posterior, the bound (Eq. 9-21) and the 1/M prior weight of Eq. 27",
    ),
    "02_gaussian_overlap": (
        "The Gaussian-overlap integral",
        "Appendix B checked numerically; the error of the KL bound (Eq. 21) against Monte Carlo",
    ),
    "03_two_posteriors": ("Two posteriors in one dimension", "Fig. 4, with an interactive version"),
    "04_sine_waves": (
        "Sine waves",
        "Fig. 5a and Fig. 6 at Appendix D.1's settings, annealed runs beside them, {seeds} of six methods",
    ),
    "05_mnist_2d": ("MNIST in two dimensions", "Fig. 1 on {seeds}: smooth, compact, separated, measured"),
    "06_wasserstein_autoencoders": (
        "Wasserstein auto-encoders",
        "the WAE slides: WAE-MMD and WAE-GAN beside AEVB and WiSE-ALE on all of MNIST, {seeds}",
    ),
    "07_faces": ("Faces", "Fig. 5b, FID and sharpness on Appendix D.3's networks (a named stand-in for CelebA), {seeds}"),
    "08_nonparametric_vae": ("A nonparametric VAE", "Bodin et al.'s Fig. 2-4 against the VAE and WiSE-ALE, {seeds}"),
    "09_teapots": ("Teapots", "Appendix D's promised teapots: DCI, MIG and traversals of five methods, {seeds}"),
    "10_what_makes_wise_ale_work": (
        "What makes WiSE-ALE work",
        "the 1/M weight against the aggregate form (2 x 2), the log M / M bound, the batch size",
    ),
    "11_future_work": (
        "The paper's future work",
        "Eq. 15-17 as objectives, their error during training, the true KL as the penalty",
    ),
    "12_several_gpus": (
        "Training on several GPUs",
        "why Eq. 21 must see the global batch; torchrun; the naive local-batch estimator",
    ),
}

# chapter -> the results file whose runs' seeds "{seeds}" counts (the most seeds of any run in it)
SEEDS_FROM = {
    "04_sine_waves": "sine_seeds.json",
    "05_mnist_2d": "mnist.json",
    "06_wasserstein_autoencoders": "wae.json",
    "07_faces": "celeba.json",
    "08_nonparametric_vae": "npvae.json",
    "09_teapots": "teapots.json",
}
_WORDS = {1: "one seed", 2: "two seeds", 3: "three seeds", 4: "four seeds", 5: "five seeds"}


def _seeds(stem: str) -> str:
    """How many seeds the chapter's stored results rest on, in words (its runs' largest count)."""
    record = json.loads((TIMINGS.parent / SEEDS_FROM[stem]).read_text())
    n = max(len(m.get("seeds", [0])) for m in record["methods"].values())
    return _WORDS.get(n, f"{n} seeds")


def _seconds(s: float) -> str:
    return f"{s:,.0f} s" if s < 120 else f"{s / 60:,.0f} min"


def _run(entry: dict | None) -> str:
    """One timing: ``22 s (runs loaded, load 2)``; ``not measured`` without an entry."""
    if not entry:
        return "not measured"
    runs = {"trained": ", runs trained", "loaded": ", runs loaded", "none": ""}[entry["runs"]]
    load = f", load {entry['load']:.0f}" if entry.get("load") is not None else ""
    note = f"; {entry['note']}" if entry.get("note") else ""
    return f"{_seconds(entry['seconds'])}{runs}{load}{note}"


def _training(t: dict | None) -> str:
    if not t:
        return "nothing to train"
    return f"{t['runs']} runs, {_seconds(t['wall_seconds'])} of wall time {t['how']}"


def tables(timings: dict) -> dict[str, str]:
    """The Markdown tables, by name: ``full`` (README, "Reproducing the book") and ``compact`` (the introduction)."""
    full = [
        "| # | chapter | stored from | re-run, top to bottom | its runs' training | `quick` (the tests) |",
        "|---|---|---|---|---|---|",
    ]
    compact = ["| chapter | what it reproduces | minutes to re-run |", "|---|---|---|"]
    for stem, (title, what) in CHAPTERS.items():
        t = timings["chapters"][stem]
        stored = t["stored"]
        n = int(stem[:2])
        full.append(
            f"| {n} | [{title}](book/{stem}.ipynb) | `{stored}` | {_run(t.get(stored))} | "
            f"{_training(t.get('training'))} | {_run(t.get('quick'))} |"
        )
        entry = t.get(stored)
        minutes = f"{entry['seconds'] / 60:.1f} (`{stored}`)" if entry else "not measured"
        what = what.format(seeds=_seeds(stem)) if "{seeds}" in what else what
        compact.append(f"| {n}. [{title}]({stem}.ipynb) | {what} | {minutes} |")
    return {"full": "\n".join(full), "compact": "\n".join(compact)}


def _links(table: str, page: str) -> str:
    """Chapter links relative to ``page`` (the README sits above ``book/``)."""
    return table if page == "README.md" else table.replace("](book/", "](")


def render(page: str, text: str, made: dict[str, str]) -> str:
    """``text`` with every marked table replaced by the one the timings give."""
    for name in PAGES[page]:
        pattern = re.compile(rf"(<!-- chapters:{name} -->\n)(?:.*?\n)?(<!-- /chapters:{name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"{page} has no <!-- chapters:{name} --> ... <!-- /chapters:{name} --> markers")
        text = pattern.sub(lambda m: m.group(1) + _links(made[name], page) + "\n" + m.group(2), text)
    return text


def stale_pages() -> list[str]:
    """The pages whose tables differ from what ``timings.json`` gives."""
    made = tables(json.loads(TIMINGS.read_text()))
    return [p for p in PAGES if (ROOT / p).read_text() != render(p, (ROOT / p).read_text(), made)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if a table is out of date")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_pages()
        for page in stale:
            print(f"{page}: its chapter table differs from {TIMINGS.relative_to(ROOT)}: run python tools/chapter_table.py")
        return 1 if stale else 0
    made = tables(json.loads(TIMINGS.read_text()))
    for page in PAGES:
        path = ROOT / page
        path.write_text(render(page, path.read_text(), made))
    return 0


if __name__ == "__main__":
    sys.exit(main())
