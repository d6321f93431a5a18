"""Files a reader can trust: atomic writes, verified reads, and what identifies a run.

Everything the package stores with ``torch.save`` (the engine's training checkpoints, the digit
classifier of chapter 6, the CelebA crop cache) goes through these helpers:

- :func:`save` writes atomically (a temporary file, then ``os.replace``): a kill mid-write never
  leaves a half-written file, and a failed write names the path. :func:`write_atomically` is that
  one atomic write for any file (the results records, the MNIST files built offline);
- :func:`check_writable` finds an unwritable path *before* any work is done;
- :func:`load` verifies the file before it unpickles anything: ``torch.save`` writes a zip archive
  whose every record carries a CRC-32, and a flipped bit anywhere in a stored tensor fails that
  check (``torch.load`` itself does not look); it then loads with ``weights_only=True``, so a file
  with code in it is refused without running anything;
- :func:`tensor_digest` is the one hash of tensor contents (data sets in fingerprints);
- :func:`module_structure` describes a network completely enough to tell two runs apart: every
  submodule's type, its plain settings (a ``Dropout``'s ``p``, a ``LeakyReLU``'s slope, a
  ``BatchNorm``'s ``eps`` and ``momentum``, the auto-encoder's likelihood) and the shapes of its own
  tensors. Two networks with the same parameter shapes but ``ReLU`` in place of ``tanh``, or
  dropout 0.5 in place of 0.1, describe differently. A layer that computes a ``torch.nn`` layer's
  function another way (:mod:`wisetut.models.layers`) is described as that layer
  (its ``same_function_as``): its checkpoints are that layer's;
- :func:`differences` lists, key by key, how two such descriptions differ;
- :func:`exclusive` lets one process at a time train into a checkpoint: a second waits, saying
  which process holds it, and a lock left by a killed process never blocks the next run.
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import time
import zipfile
from collections.abc import Callable
from contextlib import contextmanager
from itertools import chain
from pathlib import Path

import torch
from filelock import FileLock, Timeout
from torch import Tensor, nn

__all__ = [
    "CheckpointError",
    "write_atomically",
    "save",
    "load",
    "check_writable",
    "exclusive",
    "tensor_digest",
    "module_structure",
    "differences",
]


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: unwritable, unreadable, corrupted, malformed, or made by a different run."""


def _tmp(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def check_writable(path: str | Path) -> None:
    """Raise :class:`CheckpointError` (naming ``path``) unless a checkpoint can be written there.

    Creates the directory if needed and writes and removes the temporary file that :func:`save`
    would write, so every check the operating system makes (a parent that is a file, a read-only
    or full file system, missing permissions) is made now, not after the first epoch.
    """
    path = Path(path)
    try:
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(_tmp(path), "wb"):
            pass
        os.remove(_tmp(path))
    except OSError as e:
        raise CheckpointError(f"cannot write checkpoint {path} ({type(e).__name__}: {e})") from e


def write_atomically(path: str | Path, write: Callable[[Path], object]) -> Path:
    """``write(tmp)`` to a temporary file beside ``path``, then ``os.replace`` it onto ``path``; returns ``path``.

    The rename is atomic: a kill mid-write leaves the old file (or none), never a half-written one.
    A write that fails removes its temporary file and raises what ``write`` raised.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def save(path: str | Path, state: dict) -> None:
    """``torch.save(state)`` to ``path`` atomically; a failure is a :class:`CheckpointError` naming the path."""
    path = Path(path)
    try:
        write_atomically(path, lambda tmp: torch.save(state, tmp))
    except (OSError, RuntimeError) as e:  # torch reports a failed write as a RuntimeError
        raise CheckpointError(f"cannot write checkpoint {path} ({type(e).__name__}: {e})") from e


def load(path: str | Path, map_location=None) -> object:
    """What :func:`save` wrote to ``path``, after checking every record of the file against its CRC-32.

    Raises:
        CheckpointError: if the file is not a ``torch.save`` archive, is corrupted (the message
            names the damaged record), or cannot be unpickled with ``weights_only=True``. The file
            is left untouched.
    """
    path = Path(path)
    keep = "It is left untouched: delete it to start again, or pass another path."
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise CheckpointError(f"cannot read checkpoint {path} ({type(e).__name__}: {e}). {keep}") from e
    if damaged is not None:
        raise CheckpointError(f"checkpoint {path} is corrupted: record {damaged!r} fails its CRC-32 check. {keep}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # an unpickling error, or code that weights_only refuses
        raise CheckpointError(f"cannot read checkpoint {path} ({type(e).__name__}: {e}). {keep}") from e


def _lock_files(path: Path) -> tuple[Path, Path]:
    """The lock and owner files of checkpoint ``path``: in the system's temporary folder, named for its absolute path.

    Kept out of the checkpoint's folder, which then holds checkpoints only; one machine's processes
    all see them (the lock is the operating system's, which is what one machine shares).
    """
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:20]
    folder = Path(tempfile.gettempdir()) / "wisetut-locks"
    folder.mkdir(exist_ok=True)
    return folder / f"{key}.lock", folder / f"{key}.owner"


def _holder(owner: Path) -> str:
    """Who holds a lock, as its owner file says (``pid 123 on host, since ...``), or ``unknown``."""
    try:
        return owner.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


@contextmanager
def exclusive(path: str | Path, *, wait: bool = True, say=print):
    """Hold the lock of checkpoint ``path`` while the block runs: one writer per checkpoint.

    A second process that trains into the same path waits here until the first is done (``say``
    tells it which path it waits for and who holds it), then finds the first one's checkpoint:
    the same run is loaded, not trained again, and a different run is refused by its fingerprint,
    so neither run's work is lost. The lock is the operating system's (``filelock``), released when
    its holder exits or is killed, so a stale lock never blocks. Its files live in the system's
    temporary folder (:func:`_lock_files`), not beside the checkpoint.

    Raises:
        CheckpointError: with ``wait=False``, if another process holds the lock.
    """
    path = Path(path)
    lock_file, owner = _lock_files(path)
    lock = FileLock(str(lock_file))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        message = f"{path} is being trained by another process ({_holder(owner)})"
        if not wait:
            raise CheckpointError(f"{message}; wait for it to finish, or pass another checkpoint path") from None
        say(f"{message}: waiting for it to finish")
        lock.acquire()
    try:
        owner.write_text(f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        yield
    finally:
        lock.release()


def tensor_digest(*tensors: Tensor) -> str:
    """A short sha256 of the tensors' shapes, dtypes and contents, in order (16 hex digits).

    Cheap for a data set: all 60,000 MNIST training digits in float32 (188 MB) hash in about 0.1 s.
    """
    h = hashlib.sha256()
    for t in tensors:
        h.update(str((tuple(t.shape), str(t.dtype))).encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy())
    return h.hexdigest()[:16]


def _plain(v) -> bool:
    if isinstance(v, (tuple, list)):
        return all(_plain(x) for x in v)
    return v is None or isinstance(v, (bool, int, float, str))


def module_structure(module: nn.Module, prefix: str) -> dict[str, str]:
    """One entry per submodule of ``module`` (keys ``prefix``, ``prefix.encoder.0``, ...).

    Each entry is the submodule's type with its public plain-valued attributes (the settings its
    constructor stored: sizes, strides, ``p``, ``eps``, ``likelihood``, ...) and the names, shapes
    and dtypes of its own parameters and buffers. The ``training`` flag is left out: a run's mode
    changes, the run does not.
    """
    out = {}
    for name, m in module.named_modules():
        settings = [f"{k}={v!r}" for k, v in vars(m).items() if not k.startswith("_") and k != "training" and _plain(v)]
        tensors = chain(m.named_parameters(recurse=False), m.named_buffers(recurse=False))
        shapes = [f"{k}: {list(t.shape)} {str(t.dtype).removeprefix('torch.')}" for k, t in tensors]
        kind = getattr(m, "same_function_as", type(m))
        out[f"{prefix}.{name}" if name else prefix] = f"{kind.__qualname__}({', '.join(settings + shapes)})"
    return out


def differences(saved: dict, current: dict, limit: int = 12) -> list[str]:
    """Lines ``key: checkpoint has ..., this run has ...`` for every key whose values differ (at most ``limit``)."""
    keys = [k for k in current if saved.get(k) != current[k]] + [k for k in saved if k not in current]
    lines = [f"{k}: checkpoint has {saved.get(k)!r}, this run has {current.get(k)!r}" for k in keys]
    return lines[:limit] + ([f"... and {len(lines) - limit} more"] if len(lines) > limit else [])
