"""What a reader sees on the book's pages: no cell or paragraph shown twice."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
PAGES = sorted(BOOK.glob("*.ipynb")) + sorted(BOOK.glob("*.md"))


def _blocks(page: Path) -> list[str]:
    """A page's cells (a Markdown page is one cell), each as its source text."""
    if page.suffix == ".md":
        return [page.read_text()]
    return ["".join(c["source"]).strip() for c in json.loads(page.read_text())["cells"]]


def repeats(blocks: list[str]) -> list[str]:
    """Cells of more than 40 characters that appear twice, and paragraphs of more than 80 characters that do."""
    cells = collections.Counter(b for b in blocks if len(b) > 40)
    paragraphs = collections.Counter(p.strip() for b in blocks for p in b.split("\n\n") if len(p.strip()) > 80)
    return [k for k, n in (cells | paragraphs).items() if n > 1]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_no_cell_or_paragraph_appears_twice(page):
    found = repeats(_blocks(page))
    assert not found, f"{page.name} shows this twice: {found[0][:120]!r}"


def test_the_repeat_check_finds_a_repeated_paragraph_and_cell():
    para = "A paragraph long enough to count, which a reader would see twice on the page if it were repeated."
    assert repeats(["# Title\n\n" + para, "text\n\n" + para]) == [para]
    assert repeats(["print('a cell that was pasted twice by mistake')"] * 2) == [
        "print('a cell that was pasted twice by mistake')"
    ]
    assert repeats(["short", "short", "# A\n\n" + para]) == []


# --- legible figures: the smallest text of each figure as the book shows it (wisetut.outputs.legibility) -----------


def test_recorded_figures_show_their_smallest_text_at_8_px_or_more():
    """Every figure whose legibility was recorded at save time shows its smallest text at MIN_FONT_PX or more.

    Figures saved before the record existed are not in book/figures/legibility.json; they are listed, not judged.
    """
    from wisetut.outputs import MIN_FONT_PX

    path = BOOK / "figures" / "legibility.json"
    record = json.loads(path.read_text()) if path.exists() else {}
    assert all((BOOK / "figures" / f"{name}.png").exists() for name in record), "an entry for a figure that is gone"
    small = {name: r for name, r in record.items() if r["min_font_px"] is not None and r["min_font_px"] < MIN_FONT_PX}
    assert not small, f"text below {MIN_FONT_PX} px as the book shows it: {small}"
    unrecorded = sorted(p.stem for p in (BOOK / "figures").glob("*.png") if p.stem not in record)
    print(f"{len(record)} figures recorded and legible; {len(unrecorded)} saved before the record: {unrecorded}")


def test_legibility_is_measured_as_the_book_shows_a_wide_figure(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from wisetut import outputs

    fig, ax = plt.subplots(figsize=(16, 3.6))  # shrunk to the column: 8-point ticks become about 5 px
    ax.tick_params(labelsize=8)
    ax.plot([0, 1])
    wide = outputs.legibility(fig)
    assert wide["min_font_pt"] == 8 and wide["min_font_px"] < outputs.MIN_FONT_PX
    assert wide["min_font_px"] == pytest.approx(8 / 72 * outputs.COLUMN_PX / wide["width_in"], rel=1e-3)
    fig, ax = plt.subplots(figsize=(6, 3))  # narrower than the column: shown at its own size
    ax.plot([0, 1])
    ax.tick_params(labelsize=8)
    assert outputs.legibility(fig)["min_font_px"] == pytest.approx(8 / 72 * outputs.INLINE_DPI, rel=1e-3)
    monkeypatch.setenv(outputs.OUTPUT_ENV_VAR, str(tmp_path))
    outputs.save_figure(fig, "small")
    assert json.loads((tmp_path / "figures" / "legibility.json").read_text())["small"]["min_font_pt"] == 8
    plt.close("all")


def test_the_browser_check_uses_the_package_column():
    import sys

    sys.path.insert(0, str(BOOK.parent / "tools"))
    import check_book

    from wisetut.outputs import COLUMN_PX

    assert check_book.COLUMN_PX == COLUMN_PX


def test_glued_numbers_are_plain_numbers_the_book_can_format(monkeypatch):
    """A numpy number glued as is shows as np.float64(...) and breaks {glue:text}`name:.2f`: outputs.glue stores plain ones."""
    import numpy as np

    from wisetut import outputs

    seen = {}
    monkeypatch.setattr("myst_nb.glue", lambda name, value, display=True: seen.update({name: value}))
    outputs.glue("f", np.float64(0.25))
    outputs.glue("i", np.int64(3))
    outputs.glue("s", "holds")
    assert repr(seen["f"]) == "0.25" and repr(seen["i"]) == "3" and seen["s"] == "holds"


CHAPTERS = sorted(BOOK.glob("[0-9]*.ipynb"))


def glue_problems(cells: list[dict]) -> list[str]:
    """Names the Markdown cites with ``{glue:text}`` (or ``{glue}``) that no stored output glued."""
    import re

    glued = {
        o["metadata"]["scrapbook"]["name"] for c in cells for o in c.get("outputs", []) if "scrapbook" in o.get("metadata", {})
    }
    cited = {
        m for c in cells if c["cell_type"] == "markdown" for m in re.findall(r"\{glue(?::\w+)?\}`([^`:]+)", "".join(c["source"]))
    }
    return sorted(cited - glued)


@pytest.mark.parametrize("page", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_every_number_the_text_glues_is_in_the_stored_outputs(page):
    missing = glue_problems(json.loads(page.read_text())["cells"])
    assert not missing, f"{page.name}'s text cites values no stored output glued: {missing}"


def test_the_glue_check_finds_a_value_nobody_glued():
    glued = {"output_type": "display_data", "metadata": {"scrapbook": {"name": "here"}}, "data": {}}
    cells = [
        {"cell_type": "code", "source": ["glue('here', 1)"], "outputs": [glued]},
        {"cell_type": "markdown", "source": ["{glue:text}`here:.2f` and {glue:text}`gone`"]},
    ]
    assert glue_problems(cells) == ["gone"]
