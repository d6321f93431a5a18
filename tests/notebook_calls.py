"""Execute a chapter's own training cells and record its ``train_methods`` calls instead of training.

Every code cell up to the chapter's first ``train_methods`` call (the set-up: imports, data, networks,
methods; a side run trained with the engine itself is skipped), then every later cell that calls it,
with ``wisetut.experiments.train_methods`` replaced by a recorder. Run with the book folder as the
working directory, as the chapters are.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib

import wisetut.experiments

matplotlib.use("Agg")
BOOK = Path(__file__).resolve().parents[1] / "book"
_DIRECT_TRAIN = re.compile(r"(?<![\w.])train\(")  # a side run trained with the engine itself (chapter 4's short WAE)


def notebook_calls(chapter: str) -> list[dict]:
    """Execute ``chapter``'s training cells with a recording ``train_methods``; the calls it made."""
    calls = []

    def record(experiment, model_fn, methods, train_x, test_x, settings, *, seed=None, seeds=None, **kwargs):
        calls.append(
            dict(
                experiment=experiment,
                model_fn=model_fn,
                methods=dict(methods),
                train_x=train_x,
                test_x=test_x,
                settings=settings,
                seeds=[0 if seed is None else seed] if seeds is None else seeds,
            )
        )
        return {name: None for name in methods}

    cells = [
        "".join(c["source"]) for c in json.loads((BOOK / f"{chapter}.ipynb").read_text())["cells"] if c["cell_type"] == "code"
    ]
    first = next(i for i, src in enumerate(cells) if "train_methods(" in src)
    namespace: dict = {}
    original = wisetut.experiments.train_methods
    wisetut.experiments.train_methods = record  # the notebooks import it from there
    try:
        for i, src in enumerate(cells):
            if "get_ipython" in src or (i < first and _DIRECT_TRAIN.search(src)) or (i > first and "train_methods(" not in src):
                continue
            try:
                exec(compile(src, f"{chapter} cell {i}", "exec"), namespace)
            except Exception:
                if i < first:  # the set-up must run; later cells stop where they use the (absent) runs
                    raise
    finally:
        wisetut.experiments.train_methods = original
    return calls
