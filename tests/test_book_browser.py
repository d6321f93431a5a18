"""The built book as a reader sees it: every page in headless Chromium, offline.

These tests carry the ``browser`` marker, which plain ``pytest`` deselects (pyproject.toml);
``make test-browser`` (part of ``make test``) builds the book and runs them. The checks themselves
live in ``tools/check_book.py`` (also a command: ``python tools/check_book.py``).

Without a Chromium they skip, saying how to install one.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from check_book import ChromiumMissing, check_book, summary  # noqa: E402

pytestmark = pytest.mark.browser

HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
# A 1x1 PNG, for a page whose image loads.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")


def grey_png(width: int, height: int) -> bytes:
    """A grey RGB PNG of the given size (a wide figure, for the column check)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\x80" * (3 * width) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def read(folder: Path, pages: list[str] | None = None, screenshots: Path | None = None):
    """``check_book``, skipping the test when no Chromium can be started."""
    try:
        return check_book(folder, screenshots=screenshots, pages=pages)
    except ChromiumMissing as error:
        pytest.skip(str(error))


def test_every_page_of_the_book_reads_offline():
    if not (HTML / "index.html").is_file():
        pytest.fail(f"no built book at {HTML}: run `make book` first (`make test-browser` does both)")
    reports = read(HTML, screenshots=SCREENSHOTS)
    print("\n" + summary(reports) + f"\nscreenshots: {SCREENSHOTS}")
    chapters = [r for r in reports if r.path.startswith("book/") and not r.path.endswith("intro.html")]
    assert chapters, "the built book has no chapter pages"
    assert sum(r.formulas for r in reports) > 0, "no formula was typeset anywhere"
    problems = [f"{r.path}: {p}" for r in reports for p in r.problems]
    assert not problems, "what a reader would see go wrong:\n" + "\n".join(problems)


def mathjax_page(body: str) -> str:
    """An HTML page that typesets ``body`` with the book's own MathJax (configured like Sphinx)."""
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>t</title>"
        "<script>window.MathJax = {tex: {macros: {KL: '\\\\mathrm{KL}'}},"
        " options: {processHtmlClass: 'math'}}</script>"
        "<script defer src='_static/mathjax/tex-mml-chtml.js'></script>"
        f"</head><body class='tex2jax_ignore'>{body}</body></html>"
    )


@pytest.fixture
def site(tmp_path):
    """A tiny site: one good page and pages each broken in a way a reader would notice."""
    from offline_assets import mathjax_es5

    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "mathjax").symlink_to(mathjax_es5(), target_is_directory=True)
    (tmp_path / "dot.png").write_bytes(PNG)
    (tmp_path / "wide.png").write_bytes(grey_png(800, 4))
    (tmp_path / "good.html").write_text(
        mathjax_page(
            '<p id="top">A formula <span class="math">\\(\\KL(q \\| p) \\ge 0\\)</span>, '
            '<img src="dot.png" alt="a dot">, <a href="good.html#top">a link</a>.</p>'
        )
    )
    (tmp_path / "no_mathjax.html").write_text(
        "<!doctype html><html><body><p><span class='math'>\\(\\beta\\)</span>-VAE, "
        "and $$x^2$$ left in the text.</p></body></html>"
    )
    (tmp_path / "bad_math.html").write_text(
        mathjax_page("<p><span class='math'>\\(x^\\)</span> and <span class='math'>\\(\\nosuchmacro\\)</span></p>")
    )
    (tmp_path / "bad_page.html").write_text(
        "<!doctype html><html><body><img src='missing.png' alt='gone'>"
        "<img src='wide.png' style='width: 300px' alt='a figure squeezed below the column'>"
        "<img src='https://example.org/remote.png' alt='remote'>"
        "<a href='nowhere.html'>dead</a> <a href='good.html#no-such-anchor'>no anchor</a>"
        "<script>throw new Error('boom')</script></body></html>"
    )
    (tmp_path / "_sources").mkdir()
    (tmp_path / "_sources" / "notebook.ipynb").write_text("{}")
    (tmp_path / "notebook.html").write_text("<!doctype html><html><body><p>A chapter.</p></body></html>")
    return tmp_path


def test_the_checker_passes_a_good_page_and_fails_each_broken_one(site):
    reports = {r.path: r for r in read(site)}
    assert sorted(reports) == ["bad_math.html", "bad_page.html", "good.html", "no_mathjax.html", "notebook.html"]

    good = reports["good.html"]
    assert (good.formulas, good.images, good.problems) == (1, 1, [])

    def found(page: str, *fragments: str) -> None:
        problems = "\n".join(reports[page].problems)
        for fragment in fragments:
            assert fragment in problems, f"{page}: expected a problem with {fragment!r}, got:\n{problems}"

    found("no_mathjax.html", "formula not typeset: \\(\\beta\\)", "raw TeX in the text", "$$x^2$$")
    found("bad_math.html", "MathJax error: x^", "MathJax error: \\nosuchmacro")
    found(
        "bad_page.html",
        "image not loaded: http://127.0.0.1",
        "missing.png",
        "needs the network: https://example.org/remote.png",
        "HTTP 404",
        "broken link",
        "nowhere.html (HTTP 404)",
        "no #no-such-anchor",
        "boom",
        "image shrunk to 300 px, narrower than the 640-px column",
    )
    found("notebook.html", "no Colab launch button", "no Binder launch button")
