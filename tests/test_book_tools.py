"""The book's build helpers in ``tools/``: bibliography labels, offline MathJax, the page checker's parts.

Fast and browser-free; the browser test itself is ``tests/test_book_browser.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pybtex.database import parse_string

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from author_year_bibliography import AuthorYearLabelStyle, author_year_label  # noqa: E402
from check_book import anchors_of, html_pages, is_notebook_page, is_redirect  # noqa: E402
from offline_assets import local_mathjax_dir, mathjax_es5  # noqa: E402
from sphinx.errors import ExtensionError  # noqa: E402

BIB = r"""
@article{one, author = {LeCun, Yann}, title = {A}, year = {1998}}
@article{two, author = {Kingma, Diederik P. and Welling, Max}, title = {B}, year = {2013}}
@article{three, author = {Lin, Shuyu and Clark, Ronald and Birke, Robert}, title = {C}, year = {2019}}
@article{accent, author = {Sch{\"o}lkopf, Bernhard}, title = {D}, year = {2018}}
@article{same1, author = {Lin, Shuyu and Clark, Ronald and Roberts, Stephen}, title = {E}, year = {2019}}
"""


def test_labels_read_as_the_text_cites():
    entries = parse_string(BIB, "bibtex").entries
    assert author_year_label(entries["one"]) == "LeCun, 1998"
    assert author_year_label(entries["two"]) == "Kingma and Welling, 2013"
    assert author_year_label(entries["three"]) == "Lin et al., 2019"
    assert author_year_label(entries["accent"]) == "Schölkopf, 2018"


def test_repeated_labels_get_letters():
    entries = parse_string(BIB, "bibtex").entries
    labels = list(AuthorYearLabelStyle().format_labels([entries["three"], entries["same1"], entries["one"]]))
    assert labels == ["Lin et al., 2019a", "Lin et al., 2019b", "LeCun, 1998"]


def test_mathjax_3_is_installed_and_found():
    es5 = mathjax_es5()
    assert (es5 / "tex-mml-chtml.js").is_file()
    assert (es5 / "output" / "chtml" / "fonts" / "woff-v2").is_dir()  # the fonts it typesets with


def test_mathjax_path_names_a_folder_under_static_or_a_url():
    assert local_mathjax_dir("mathjax/tex-mml-chtml.js") == "mathjax"
    assert local_mathjax_dir("https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js") is None
    with pytest.raises(ExtensionError, match="folder under _static"):
        local_mathjax_dir("tex-mml-chtml.js")


def test_pages_redirects_notebooks_and_anchors(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "_static").mkdir()
    (tmp_path / "_sources" / "book").mkdir(parents=True)
    (tmp_path / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=book/a.html" />')
    (tmp_path / "book" / "a.html").write_text('<h1 id="top">A</h1><a name="old"></a>')
    (tmp_path / "genindex.html").write_text("")
    (tmp_path / "_static" / "x.html").write_text("")
    (tmp_path / "_sources" / "book" / "a.ipynb").write_text("{}")
    assert html_pages(tmp_path) == ["book/a.html", "index.html"]
    assert is_redirect(tmp_path / "index.html") and not is_redirect(tmp_path / "book" / "a.html")
    assert is_notebook_page(tmp_path, "book/a.html") and not is_notebook_page(tmp_path, "index.html")
    assert anchors_of((tmp_path / "book" / "a.html").read_text()) == {"top", "old"}


def test_the_chapter_tables_come_from_the_timings_file():
    """README.md, the introduction and "Reproducing the book" show what book/results/timings.json holds."""
    import json

    import chapter_table

    assert chapter_table.stale_pages() == []
    timings = json.loads(chapter_table.TIMINGS.read_text())
    assert set(timings["chapters"]) == set(chapter_table.CHAPTERS) == {p.stem for p in (ROOT / "book").glob("[0-9]*.ipynb")}
    # every chapter has the time of its stored profile, and a changed time shows in the tables
    assert all(c["stored"] in c for c in timings["chapters"].values())
    timings["chapters"]["05_mnist_2d"]["paper"]["seconds"] = 59.0
    made = chapter_table.tables(timings)
    assert "59 s, runs loaded" in made["full"] and "| 1.0 (`paper`) |" in made["compact"]


def test_the_chapter_list_is_in_reading_order():
    toc = (ROOT / "_toc.yml").read_text()
    chapters = [
        line.split("book/")[1] for line in toc.splitlines() if "file: book/" in line and line.split("book/")[1][:2].isdigit()
    ]
    assert chapters == sorted(p.stem for p in (ROOT / "book").glob("[0-9]*.ipynb"))


def test_the_package_maps_list_every_module():
    """The README's and wisetut/__init__.py's maps of the package name every module of it."""
    import wisetut

    packages = {p.parent.name for p in (ROOT / "wisetut").glob("*/__init__.py")}
    assert packages == {"models", "data", "methods"}, packages
    modules = {p.stem for p in (ROOT / "wisetut").glob("*.py") if not p.stem.startswith("_")} | packages
    readme = (ROOT / "README.md").read_text().split("The modules, in the order a reader meets them:")[1].split("Layout:")[0]
    assert {m for m in modules if f"`{m}`" not in readme and f"`{m}/`" not in readme} == set()
    assert {m for m in modules if f"wisetut.{m}`" not in wisetut.__doc__} == set()
