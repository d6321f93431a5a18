"""Run the book's chapters as a reader does, one fresh kernel each, and say how long each took.

Used by ``make reproduce``::

    python tools/run_chapters.py --inplace                     # re-execute and store every chapter
    python tools/run_chapters.py --profile quick --isolate     # run each from a clean temp folder
    python tools/run_chapters.py book/04_sine_waves.ipynb      # one chapter
    python tools/run_chapters.py --profile quick --isolate --record   # and record the times

Each chapter runs top to bottom (``Run All``) in a new ``python3`` kernel, with the chapter's own
folder as working directory and ``WISETUT_PROFILE`` set to the chosen profile.

- ``--inplace`` writes the executed notebook back over the stored one (outputs, and the figures
  and results the chapter saves into ``book/``). Without it nothing in the book is changed: the
  executed copies are discarded.
- ``--isolate`` gives every chapter its own empty ``WISETUT_OUTPUT_DIR`` (results, figures and
  checkpoints go there), so a chapter that needs a file left by an earlier run, or by another
  chapter, fails instead of passing by luck. It cannot be combined with ``--inplace``.

- ``--record`` (and ``--inplace``) writes each chapter's wall time, profile, load average and whether
  its runs were trained or loaded into ``book/results/timings.json``, from which
  ``tools/chapter_table.py`` makes the chapter tables of the README and the book.

At the end a table gives every chapter's wall time and the profile it ran in; a chapter that raised
is reported with its error and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from wisetut.checkpoints import write_atomically  # noqa: E402
from wisetut.outputs import quick_root  # noqa: E402
from wisetut.profiles import ENV_VAR, PROFILES, current_profile  # noqa: E402  (the one reader of the variable)
from wisetut.runs import EXPERIMENTS  # noqa: E402

TIMINGS = ROOT / "book" / "results" / "timings.json"


def _checkpoints(path: Path, profile: str, output_dir: str | None) -> dict[str, int]:
    """The chapter's run checkpoints under ``profile`` (name -> modification time): what it trains or loads."""
    folder = Path(output_dir) if output_dir else quick_root() if profile == "quick" else path.parent
    prefixes = tuple(f"{e.name}-{profile}-" for e in EXPERIMENTS.values() if path.stem in e.chapters)
    return {p.name: p.stat().st_mtime_ns for p in (folder / "checkpoints").glob("*.pt") if p.name.startswith(prefixes)}


def record(path: Path, profile: str, seconds: float, before: dict, after: dict) -> None:
    """Write one chapter's time in ``profile`` into ``book/results/timings.json``."""
    runs = "none" if not after else "trained" if after != before else "loaded"
    timings = json.loads(TIMINGS.read_text())
    chapter = timings["chapters"].setdefault(path.stem, {"stored": profile})
    chapter[profile] = {
        "seconds": round(seconds, 1),
        "runs": runs,
        "load": round(os.getloadavg()[1], 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d"),
        "source": "tools/run_chapters.py --record",
    }
    write_atomically(TIMINGS, lambda tmp: tmp.write_text(json.dumps(timings, indent=2) + "\n"))


def run_chapter(path: Path, profile: str, inplace: bool, output_dir: str | None) -> float:
    """Execute ``path`` top to bottom in a fresh kernel; return the wall time in seconds.

    Raises:
        CellExecutionError: a cell raised (the message names the cell and the error).
    """
    nb = nbformat.read(path, as_version=4)
    env_before = {k: os.environ.get(k) for k in (ENV_VAR, "WISETUT_OUTPUT_DIR")}
    os.environ[ENV_VAR] = profile  # the kernel inherits the environment
    if output_dir is not None:
        os.environ["WISETUT_OUTPUT_DIR"] = output_dir
    try:
        client = NotebookClient(nb, timeout=None, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - start
    finally:
        for key, value in env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if inplace:
        nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", type=Path, help="notebooks to run (default: every book/[0-9]*.ipynb, in order)")
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default=None,
        help="profile to run in (default: $WISETUT_PROFILE, else the package's default)",
    )
    parser.add_argument("--inplace", action="store_true", help="store the executed notebooks")
    parser.add_argument("--isolate", action="store_true", help="run every chapter with its own empty WISETUT_OUTPUT_DIR")
    parser.add_argument(
        "--record", action="store_true", help="write each chapter's time into book/results/timings.json (--inplace does too)"
    )
    args = parser.parse_args(argv)
    if args.inplace and args.isolate:
        parser.error("--isolate writes to temporary folders; it cannot store chapters (--inplace)")
    try:
        profile = args.profile or current_profile()
    except ValueError as error:  # $WISETUT_PROFILE names no profile
        parser.error(str(error))
    chapters = args.chapters or sorted((ROOT / "book").glob("[0-9]*.ipynb"))
    if not chapters:
        parser.error("no chapters found")

    print(
        f"Running {len(chapters)} chapter(s) in the {profile!r} profile on "
        f"{platform.machine()} ({os.cpu_count()} CPU cores)"
        f"{', each from an empty output folder' if args.isolate else ''}"
        f"{', storing the outputs' if args.inplace else ''}.",
        flush=True,
    )
    rows, failed = [], False
    for path in chapters:
        with tempfile.TemporaryDirectory(prefix="wisetut-chapter-") as tmp:
            out = tmp if args.isolate else None
            before = _checkpoints(path, profile, out)
            try:
                seconds = run_chapter(path, profile, args.inplace, out)
                status = "ok"
                if args.record or args.inplace:
                    record(path, profile, seconds, before, _checkpoints(path, profile, out))
            except CellExecutionError as error:
                seconds, status, failed = float("nan"), "FAILED", True
                print(f"{path.name}: {str(error).strip().splitlines()[-1]}", file=sys.stderr)
        rows.append((path.name, profile, seconds, status))
        # The load average says whether other jobs shared the CPU (times grow with it).
        print(
            f"{path.name}: {seconds:.0f} s ({profile}) {status}; load average {os.getloadavg()[1]:.1f} over the last 5 min",
            flush=True,
        )

    width = max(len(name) for name, *_ in rows)
    print(f"\n{'chapter'.ljust(width)}  profile   wall time")
    for name, prof, seconds, status in rows:
        shown = f"{seconds:8.1f} s" if status == "ok" else "  failed"
        print(f"{name.ljust(width)}  {prof:<8}  {shown}")
    total = sum(s for *_, s, st in rows if st == "ok")
    print(f"{'total'.ljust(width)}            {total:8.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
