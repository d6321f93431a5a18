"""The command line: ``python -m wisetut`` (or ``wisetut``) lists and trains the chapters' runs.

``list`` shows every experiment of :mod:`wisetut.runs`, its runs and whether each is trained,
partial or missing in the book's checkpoint folder; ``train`` trains (or resumes) some of them
into that folder, so that the chapter then loads them instead of training them. Under
``torchrun`` the same command trains over several processes (:mod:`wisetut.distributed`).
:func:`run_command` runs it in a fresh process (under a launcher such as ``torchrun``) from a
notebook, as chapter 12 does.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from wisetut import distributed
from wisetut.checkpoints import CheckpointError
from wisetut.outputs import OUTPUT_ENV_VAR, book_dir, output_dir, pick_device
from wisetut.profiles import ENV_VAR, PROFILES, current_profile
from wisetut.runs import EXPERIMENTS, experiment

__all__ = ["main", "build_parser", "run_command"]

EXAMPLES = """\
examples:
  python -m wisetut list
  python -m wisetut list sine --profile paper
  python -m wisetut train sine --profile quick --methods wise --seeds 0
  python -m wisetut train mnist --seeds 0 1 2 --workers 2
  torchrun --nproc-per-node 4 -m wisetut train celeba --profile paper
"""


def _integer(least: int, what: str):
    """An argparse type: an integer of at least ``least``; its error says what was expected and what was given."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < least:
            raise argparse.ArgumentTypeError(f"expected {what} (an integer >= {least}), got {text!r}")
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


_seed = _integer(0, "a seed")
_count = _integer(1, "a number of processes")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m wisetut``: the ``list`` and ``train`` commands."""
    parser = argparse.ArgumentParser(
        prog="wisetut",
        description="Train the runs of the wisetut book's chapters, or see which are trained. A run is a "
        "method trained on a chapter's data with a seed; it is stored as a checkpoint that the "
        "chapter loads instead of training it. Runs resume from their last finished epoch.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--profile",
        choices=PROFILES,
        help=f"how big the runs are (default: ${ENV_VAR}, else paper on a GPU and standard without)",
    )
    common.add_argument(
        "--output-dir",
        type=Path,
        metavar="DIR",
        help=f"the folder holding checkpoints/ (default: ${OUTPUT_ENV_VAR}, else the book's folder "
        "for standard and paper, and the chapters' temporary folder for quick)",
    )
    common.add_argument(
        "--seeds",
        type=_seed,
        nargs="+",
        metavar="K",
        help="seeds (default: the seeds the chapters train; seed 0 is the run the figures show)",
    )

    lister = commands.add_parser(
        "list",
        parents=[common],
        help="experiments, their runs and which are trained",
        description="Every experiment (a chapter's set of runs), each run, and whether its "
        "checkpoint is trained, partial (and how many epochs it holds) or missing.",
    )
    lister.set_defaults(parser=lister)
    lister.add_argument(
        "experiments", nargs="*", metavar="EXPERIMENT", help=f"only these experiments (of: {', '.join(EXPERIMENTS)})"
    )

    trainer = commands.add_parser(
        "train",
        parents=[common],
        help="train (or resume) an experiment's runs",
        description="Train an experiment's runs into the checkpoint folder, or resume them; "
        "finished runs are loaded, not retrained. One progress bar per run.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    trainer.set_defaults(parser=trainer)
    trainer.add_argument("experiment", choices=list(EXPERIMENTS), metavar="EXPERIMENT", help=f"one of: {', '.join(EXPERIMENTS)}")
    trainer.add_argument("--methods", nargs="+", metavar="RUN", help="only these runs (default: all; see `list`)")
    trainer.add_argument(
        "--workers",
        type=_count,
        default=1,
        metavar="N",
        help="on a CPU, train up to N runs at once in separate processes (default: 1)",
    )
    trainer.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    trainer.add_argument(
        "--local-kl",
        action="store_true",
        help="under torchrun, compute Eq. 21 and the MMD over each process's local batch instead of "
        "the global batch (the naive estimator; a different run with its own checkpoint)",
    )
    trainer.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def _configure(args, parser) -> None:
    """The profile and the output folder, as the environment the chapters read them from."""
    if args.output_dir and args.output_dir.exists() and not args.output_dir.is_dir():
        parser.error(f"--output-dir {args.output_dir} is a file, not a folder: name a folder (it is created if missing)")
    if args.profile:
        os.environ[ENV_VAR] = args.profile
    if args.output_dir:
        os.environ[OUTPUT_ENV_VAR] = str(args.output_dir.resolve())
    elif OUTPUT_ENV_VAR not in os.environ and current_profile() != "quick":
        os.environ[OUTPUT_ENV_VAR] = str(book_dir())  # the chapters run in book/, so that is where they look


def _folder() -> str:
    """The checkpoint folder, relative to the working directory when it lies inside it."""
    path = output_dir("checkpoints").resolve()
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _list(args, parser) -> int:
    unknown = [e for e in args.experiments if e not in EXPERIMENTS]
    if unknown:
        parser.error(f"unknown experiment {', '.join(map(repr, unknown))}: expected some of {', '.join(EXPERIMENTS)}")
    print(f"profile {current_profile()}; checkpoints in {_folder()}")
    for name in args.experiments or EXPERIMENTS:
        e = experiment(name)
        rows = e.status(seeds=args.seeds)
        counts = {s: sum(r.state == s for r in rows) for s in ("trained", "partial", "missing", "damaged")}
        print(
            f"\n{name} (chapters {', '.join(e.chapters)}): {len(rows)} runs, "
            + ", ".join(f"{n} {s}" for s, n in counts.items() if n or s != "damaged")
        )
        for r in rows:
            detail = (
                f"{r.problem}: delete it to train the run again" if r.state == "damaged" else f"{r.epochs_done}/{r.epochs} epochs"
            )
            print(f"  {r.method:18s} seed {r.seed:<3d} {r.state:8s} {detail}")
    return 0


def _train(args, parser) -> int:
    e = experiment(args.experiment)
    try:
        e.check_methods(args.methods)
        pick_device(args.device)
    except ValueError as err:
        parser.error(str(err))
    shard = distributed.setup(local_kl=args.local_kl)
    say = print if shard.is_main else (lambda *a, **k: None)
    if args.local_kl and not shard.distributed:
        say("--local-kl changes nothing in one process (the local batch is the global one)")
    say(
        f"{e.name}, profile {current_profile()}, "
        + (f"{shard.world_size} processes" if shard.distributed else "one process")
        + f"; checkpoints in {_folder()}"
    )
    try:
        runs = e.train(args.methods, args.seeds, device=args.device, workers=args.workers, progress=not args.no_progress)
    except (FileNotFoundError, CheckpointError) as err:  # a missing data set (the loader says how to get it),
        say(f"error: {err}", file=sys.stderr)  # or a checkpoint that is damaged, another run's or unwritable
        return 1
    say(f"\n{'run':18s} {'seed':>4s} {'epochs':>6s} {'from':>4s} {'held-out sq. error':>18s} {'train s':>8s}")
    for name, by_seed in runs.items():
        for seed, run in by_seed.items():
            say(
                f"{name:18s} {seed:4d} {run.history.epochs:6d} {run.resumed_from_epoch:4d} "
                f"{run.test['recon_mse']:18.4g} {run.train_seconds:8.0f}"
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad arguments, as argparse does)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure(args, args.parser)
    return {"list": _list, "train": _train}[args.command](args, args.parser)


def run_command(
    args: Sequence[str], *, launcher: Sequence[str] = (), threads: int = 1, env: Mapping[str, str] | None = None
) -> str:
    """Run ``python [launcher ...] -m wisetut ARGS`` in a fresh process; return what it printed (chapter 12).

    ``launcher`` goes before ``-m wisetut``: ``("-m", "torch.distributed.run", "--nproc-per-node", "2")``
    is ``torchrun --nproc-per-node 2``. The child gets this process's environment, ``OMP_NUM_THREADS``
    set to ``threads`` (one thread per process: several processes on a CPU) and ``env`` on top.

    Raises:
        RuntimeError: if the command exits non-zero, with the end of what it wrote to stderr.
    """
    child = {**os.environ, "OMP_NUM_THREADS": str(threads), **(env or {})}
    out = subprocess.run([sys.executable, *launcher, "-m", "wisetut", *args], capture_output=True, text=True, env=child)
    if out.returncode != 0:
        raise RuntimeError(
            f"python {' '.join([*launcher, '-m', 'wisetut', *args])} exited {out.returncode}:\n{out.stderr[-2000:]}"
        )
    return out.stdout
