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
