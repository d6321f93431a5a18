"""Sphinx extension: the bibliography labels its entries as the text cites them.

With ``bibtex_reference_style: author_year`` the text cites "[Lin et al., 2019]", but pybtex's
default ``alpha`` style labels the bibliography "[LCB+19]". This registers a pybtex formatting
style, ``author_year``, that labels each entry "Lin et al., 2019" (one author: "Lin, 2019"; two:
"Kingma and Welling, 2013"; the same label twice gets "2019a", "2019b") and sorts the list by
author, year and title. ``_config.yml`` selects it with ``bibtex_default_style: author_year``.
"""

from __future__ import annotations

from collections import Counter

import pybtex.plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.application import Sphinx


def _last_name(person) -> str:
    """A person's last name(s) as plain text, TeX accents and braces decoded."""
    return Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as("text")


def author_year_label(entry) -> str:
    """``"Lin et al., 2019"``, ``"Kingma and Welling, 2013"`` or ``"LeCun, 1998"`` for ``entry``."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_last_name(person) for person in people]
    if not names:
        authors = entry.fields.get("key", entry.key)
    elif len(names) == 1:
        authors = names[0]
    elif len(names) == 2:
        authors = f"{names[0]} and {names[1]}"
    else:
        authors = f"{names[0]} et al."
    return f"{authors}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabelStyle(BaseLabelStyle):
    """Author-year labels; labels that would repeat get a, b, ... after the year."""

    def format_labels(self, sorted_entries):
        labels = [author_year_label(entry) for entry in sorted_entries]
        count, seen = Counter(labels), Counter()
        for label in labels:
            if count[label] == 1:
                yield label
            else:
                yield label + chr(ord("a") + seen[label])
                seen[label] += 1


class AuthorYearStyle(UnsrtStyle):
    """pybtex's ``unsrt`` entries, sorted by author, year and title, with author-year labels."""

    default_label_style = AuthorYearLabelStyle
    default_sorting_style = "author_year_title"


def setup(app: Sphinx) -> dict:
    pybtex.plugin.register_plugin("pybtex.style.formatting", "author_year", AuthorYearStyle)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
