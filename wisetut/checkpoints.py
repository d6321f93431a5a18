"""Files a reader can trust: atomic writes, verified reads, and what identifies a run.

Everything the package stores with ``torch.save`` goes through these helpers:

- :func:`save` and :func:`write_atomically` write a temporary file, then ``os.replace`` it: a kill mid-write
  never leaves a half-written file, and a failed write names the path;
- :func:`check_writable` finds an unwritable path *before* any work is done;
- :func:`load` checks every zip record's CRC-32 before it unpickles anything, then loads with
  ``weights_only=True``: a flipped bit, or a file with code in it, is refused without running anything;
- :func:`tensor_digest` is the one hash of tensor contents (data sets in fingerprints);
- :func:`module_structure` describes a network (each submodule's type, plain settings, tensor shapes) well
  enough to tell two runs apart, a layer of :mod:`wisetut.models.layers` as its ``same_function_as``;
  :func:`differences` lists, key by key, how two such descriptions differ;
- :func:`exclusive` lets one process at a time train into a checkpoint; a killed process's lock never blocks.
"""

from __future__ import annotations

import copy
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

from wisetut.schedule import schedule_key

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
    "FORMAT",
    "run_fingerprint",
    "optimizer_settings",
    "resume",
    "save_run",
    "epochs_in",
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


# --- training checkpoints: what identifies a run, and resuming one -------------------------------------------

FORMAT = 2  # 2: the fingerprint identifies the run (network layers, held-out data, optimisers)


def run_fingerprint(model, method, optimizers, train_x, test_x, batch_size, lr, seed) -> dict[str, str | int | float]:
    """What identifies a run: a checkpoint resumes only a run whose fingerprint is equal, key by key.

    The model's and the method's structure (:func:`~wisetut.checkpoints.module_structure`: every
    submodule's type, settings and tensor shapes, so ``ReLU`` against ``tanh`` or dropout 0.5
    against 0.1 differ), the method's hyper-parameters, both data sets (hashed), each optimiser's
    settings (its type, learning rate, betas, eps, ...), the batch size, the learning rate and its
    schedule, the seed. Not the number of epochs (a run may be continued for longer), the device
    or ``amp`` (a run trained on a GPU loads on the CPU).
    """
    fp: dict[str, str | int | float] = {
        "hparams": repr(sorted(method.hparams().items())),
        **module_structure(model, "model"),
        **module_structure(method, "method"),
        "train_data": tensor_digest(train_x),
        "test_data": tensor_digest(test_x),
        **{f"optimizer.{name}": optimizer_settings(opt) for name, opt in optimizers.items()},
        "batch_size": int(batch_size),
        "lr": float(lr),
        "seed": int(seed),
    }
    schedule = schedule_key(lr)
    if schedule is not None:  # a constant rate is "lr" alone
        fp["lr_schedule"] = schedule
    return fp


_OPTIMIZER_IMPLEMENTATION = ("foreach", "fused", "capturable", "differentiable")  # how it computes, not what


def optimizer_settings(opt: torch.optim.Optimizer) -> str:
    """An optimiser's settings as the fingerprint records them: its type and defaults, not how it computes."""
    settings = {k: v for k, v in opt.defaults.items() if k not in _OPTIMIZER_IMPLEMENTATION}
    return f"{type(opt).__name__}({', '.join(f'{k}={v!r}' for k, v in sorted(settings.items()))})"


_CHECKPOINT_KEYS = {
    "format": int,
    "fingerprint": dict,
    "epoch": int,
    "model": dict,
    "method": dict,
    "optimizers": dict,
    "history": dict,
}


def resume(path: Path, fingerprint: dict, epochs: int, model, method, optimizers: dict, device) -> tuple[dict, int]:
    """Resume a training run from ``path`` into ``model``, ``method`` and ``optimizers``: its history (as stored) and epoch.

    Everything is checked before anything is changed: the file's integrity
    (:func:`wisetut.checkpoints.load`), its layout, its fingerprint, its epoch against ``epochs``,
    that every state dict loads (into copies), and, if training is to continue, that the file
    can be rewritten. A refused checkpoint raises
    :class:`CheckpointError` and leaves the file, the model, the method and the optimisers as they were.
    """
    ckpt = load(path, map_location=device)
    keep = "It is left untouched: delete it to train from scratch, or pass another checkpoint path."
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("format"), int):
        raise CheckpointError(f"{path} is not a wisetut training checkpoint. {keep}")
    if ckpt["format"] != FORMAT:
        raise CheckpointError(
            f"{path} is a wisetut checkpoint of format {ckpt['format']}; this version reads format "
            f"{FORMAT} (format 1's fingerprint recorded parameter shapes, not the network's layers "
            f"nor the held-out data, so it cannot tell this run from another). {keep}"
        )
    wrong = [f"{k} ({kind.__name__})" for k, kind in _CHECKPOINT_KEYS.items() if not isinstance(ckpt.get(k), kind)]
    if wrong:
        raise CheckpointError(f"{path} is a malformed wisetut checkpoint: missing or wrong {', '.join(wrong)}. {keep}")
    diff = differences(ckpt["fingerprint"], fingerprint)
    if diff:
        raise CheckpointError(f"checkpoint {path} was made by a different run:\n  " + "\n  ".join(diff) + f"\n{keep}")
    epoch = ckpt["epoch"]
    if epoch > epochs:
        raise CheckpointError(
            f"checkpoint {path} holds {epoch} epochs, more than the {epochs} asked for. {keep} Ask for at least as many epochs."
        )
    try:
        history = ckpt["history"]
        if len(history["seconds"]) != epoch or set(ckpt["optimizers"]) != set(optimizers):
            raise ValueError(
                f"{len(history['seconds'])} epochs of history and optimisers {sorted(ckpt['optimizers'])} "
                f"for epoch {epoch} and groups {sorted(optimizers)}"
            )
        # a trial load into copies (one deepcopy keeps the optimisers pointing at the copied parameters)
        trial = copy.deepcopy({"model": model, "method": method, "optimizers": optimizers})
        _load_states(trial["model"], trial["method"], trial["optimizers"], ckpt)
        for opt in trial["optimizers"].values():
            for p, state in opt.state.items():
                bad = [k for k, v in state.items() if isinstance(v, Tensor) and v.dim() > 0 and v.shape != p.shape]
                if bad:
                    raise ValueError(f"optimiser state {bad} shaped unlike its parameter {tuple(p.shape)}")
    except (AttributeError, KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path} is a malformed wisetut checkpoint ({type(e).__name__}: {e}). {keep}") from e
    if epoch < epochs:
        check_writable(path)  # training will write it (a finished checkpoint is only read)
    _load_states(model, method, optimizers, ckpt)
    return {k: history[k] for k in ("train", "test", "seconds")}, epoch


def _load_states(model, method, optimizers: dict, ckpt: dict) -> None:
    model.load_state_dict(ckpt["model"])
    method.load_state_dict(ckpt["method"])
    for name, opt in optimizers.items():
        opt.load_state_dict(ckpt["optimizers"][name])


def save_run(path: Path, *, fingerprint: dict, epoch: int, model, method, optimizers: dict, history: dict, cpu_threads) -> None:
    """Write a training checkpoint (format :data:`FORMAT`) that :func:`resume` reads back: after every epoch.

    ``cpu_threads`` is a record of how the run was trained on a CPU, not part of the fingerprint.
    """
    save(
        path,
        {
            "format": FORMAT,
            "fingerprint": fingerprint,
            "epoch": epoch,
            "model": model.state_dict(),
            "method": method.state_dict(),
            "optimizers": {name: opt.state_dict() for name, opt in optimizers.items()},
            "history": history,
            "cpu_threads": cpu_threads,
        },
    )


def epochs_in(path: str | Path) -> int:
    """Epochs a training checkpoint holds (0 if there is none), after :func:`load` has verified it.

    Raises:
        CheckpointError: for a damaged file, or one that is not a training checkpoint.
    """
    path = Path(path)
    if not path.exists():
        return 0
    ckpt = load(path, map_location="cpu")
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("epoch"), int):
        raise CheckpointError(f"{path.name} is not a wisetut training checkpoint")
    return ckpt["epoch"]
