"""Where results and figures go, and the record of what made them.

Every number and figure in the book says which profile, data and device produced it:
:func:`run_record` is that record, :func:`save_results` writes ``results/<experiment>.json``
(the schema every chapter's results file shares: experiment, profile, device, data, settings, methods,
verdicts) and :func:`save_figure` writes
``figures/<name>.png``.

Chapters run with the book folder as working directory, so by default these land in
``book/results`` and ``book/figures``. ``$WISETUT_OUTPUT_DIR`` sends them elsewhere, and the
``quick`` profile (tests, CI) writes to a temporary folder of this checkout's own (:func:`quick_root`)
unless that variable is set, so a test run never overwrites the results of a real run.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
import platform
import tempfile
from pathlib import Path

import torch

from wisetut.checkpoints import write_atomically
from wisetut.profiles import current_profile

__all__ = [
    "pick_device",
    "run_record",
    "output_dir",
    "quick_root",
    "data_root",
    "book_dir",
    "save_results",
    "save_figure",
    "legibility",
    "glue",
]

OUTPUT_ENV_VAR = "WISETUT_OUTPUT_DIR"


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else the CPU.

    Raises:
        ValueError: for a device other than ``cpu`` and ``cuda[:N]``, or a CUDA device this machine lacks.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        picked = torch.device(device)
    except (RuntimeError, TypeError):
        picked = None
    if picked is None or picked.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda' (or 'cuda:N'), got {device!r}")
    if picked.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(
                f"device {device!r} asked for, but this machine has no CUDA GPU that torch can use: "
                "use 'cpu', or leave the device out"
            )
        if picked.index is not None and picked.index >= count:
            raise ValueError(
                f"device {device!r} asked for, but this machine has {count} CUDA GPU(s) (cuda:0 to cuda:{count - 1})"
            )
    return picked


def describe_device(device: torch.device) -> str:
    """A human-readable name: ``"cuda (NVIDIA H100 80GB HBM3)"`` or ``"cpu (x86_64)"``."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.machine()})"


def run_record(device: torch.device | None = None) -> dict:
    """Profile, device and library versions of the current run."""
    device = pick_device(device)
    return {
        "profile": current_profile(),
        "device": describe_device(device),
        "torch": torch.__version__,
    }


def output_dir(kind: str) -> Path:
    """The folder for ``kind`` (``"results"`` or ``"figures"``), created if missing."""
    root = os.environ.get(OUTPUT_ENV_VAR)
    if root:
        base = Path(root)
    elif current_profile() == "quick":
        base = quick_root()
    else:
        base = Path.cwd()
    path = base / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def quick_root() -> Path:
    """The ``quick`` profile's output folder: one per copy of the package, under the system's temporary folder.

    Named for where this copy of ``wisetut`` lives (a clone, a virtual environment), so two checkouts
    on one machine never load each other's ``quick`` checkpoints: each was trained by its own code.
    """
    here = str(Path(__file__).resolve().parent)
    return Path(tempfile.gettempdir()) / f"wisetut-quick-{hashlib.sha256(here.encode()).hexdigest()[:12]}"


def _clone() -> Path | None:
    """The repository this package runs from, or ``None`` for an installed package (as on Colab)."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "book").is_dir() else None


def data_root() -> Path:
    """Where the data sets live: the repository's ``data/`` (``make data`` writes MNIST there), else ``./data``.

    Given relative to the working directory where it can be: ``../data`` from a chapter in ``book/``.
    """
    clone = _clone()
    if clone is None:
        return Path("data")
    try:
        return Path(os.path.relpath(clone / "data"))
    except ValueError:  # another drive (Windows)
        return clone / "data"


def book_dir() -> Path:
    """Where the chapters run, so where their ``checkpoints/`` are: the repository's ``book/``, else here."""
    clone = _clone()
    return clone / "book" if clone is not None else Path.cwd()


def save_results(results: dict, experiment: str) -> Path:
    """Write ``results/<experiment>.json`` atomically (:func:`wisetut.checkpoints.write_atomically`) and return its path."""
    if results.get("experiment") != experiment:
        raise ValueError(f"results['experiment'] must be {experiment!r}, got {results.get('experiment')!r}")
    text = json.dumps(results, indent=2, sort_keys=False) + "\n"  # a value JSON cannot hold fails here, before any write
    return write_atomically(output_dir("results") / f"{experiment}.json", lambda tmp: tmp.write_text(text))


COLUMN_PX = 640  # the book's text column at least, in CSS pixels (about 690; the browser test checks it is no narrower)
MIN_FONT_PX = 8  # the smallest text a figure may show in the book, as rendered
INLINE_DPI = 100  # a notebook's inline figures: pixels per inch of the image the book shows


def legibility(fig) -> dict:
    """How large a figure's smallest text is as the book shows it.

    The notebook's inline image is ``width_in * INLINE_DPI`` pixels wide (cropped to its content, as
    saved); the book shows it at that width, or shrunk to the text column (:data:`COLUMN_PX`). The
    smallest visible text, ``min_font_pt`` points, is then ``min_font_px`` pixels high.
    """
    from matplotlib.text import Text

    fig.canvas.draw()  # lays out the tick labels, which exist only once drawn
    renderer = fig.canvas.get_renderer()
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and t.get_figure() is fig]
    width_in = fig.get_tightbbox(renderer).width + 0.2  # bbox_inches="tight" pads 0.1 in on each side
    shown_px = min(width_in * INLINE_DPI, COLUMN_PX)
    min_pt = float(min(sizes)) if sizes else None
    return {
        "width_in": round(float(width_in), 3),
        "min_font_pt": min_pt,
        "min_font_px": None if min_pt is None else round(float(min_pt / 72 * shown_px / width_in), 2),
    }


def save_figure(fig, name: str) -> Path:
    """Save a Matplotlib figure as ``figures/<name>.png`` (150 dpi) and return its path.

    Its :func:`legibility` is recorded in ``figures/legibility.json`` (the book's tests fail a figure
    whose smallest text would show below :data:`MIN_FONT_PX` pixels).
    """
    path = output_dir("figures") / f"{name}.png"
    fig.savefig(path, dpi=150, bbox_inches="tight", metadata={"Software": None})
    record = path.with_name("legibility.json")
    stored = json.loads(record.read_text()) if record.exists() else {}
    stored[name] = legibility(fig)
    write_atomically(record, lambda tmp: tmp.write_text(json.dumps(dict(sorted(stored.items())), indent=1) + "\n"))
    return path


def glue(name: str, value) -> None:
    """Store ``value`` under ``name`` for the chapter's text (MyST-NB's ``glue``; ``{glue:text}`name:.2f```).

    The numbers a chapter's prose states come from its computed values this way, not typed in. Where
    MyST-NB is not installed (a notebook opened alone, as on Colab) nothing is stored: the value is only
    for the built book.
    """
    try:
        from myst_nb import glue as _glue
    except ImportError:
        return
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = int(value)  # a numpy integer's repr is np.int64(...), which the book's {glue:text} cannot format
    elif isinstance(value, numbers.Real):
        value = float(value)
    _glue(name, value, display=False)
