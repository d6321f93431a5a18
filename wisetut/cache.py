"""A run's measures computed once: stored beside its checkpoint, keyed by the run and the measuring code.

A chapter that loads its trained runs spends most of its time measuring them (codes, disentanglement
scores, traversals). :func:`cached` keeps what a measuring function returned in
``<checkpoint>.<name>.measures.pt`` under a key made of the checkpoint's fingerprint and epoch and the
source code of the functions that measure and their settings: a different run, more epochs, other
settings or changed measuring code recomputes; a damaged file is refused
(:class:`~wisetut.checkpoints.CheckpointError`, "delete it").
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from wisetut import checkpoints

__all__ = ["cached", "measure_key"]

FORMAT = 1


def measure_key(checkpoint: str | Path, code: Sequence[Callable], params: dict | None = None) -> str:
    """The key of a run's measures: its checkpoint's fingerprint and epoch, the source of ``code``, and ``params``."""
    ckpt = checkpoints.load(checkpoint, map_location="cpu")
    if not isinstance(ckpt, dict) or "fingerprint" not in ckpt:
        raise checkpoints.CheckpointError(f"{checkpoint} is not a wisetut training checkpoint")
    h = hashlib.sha256(repr(sorted(ckpt["fingerprint"].items())).encode())
    h.update(f"epoch {ckpt['epoch']}".encode())
    for fn in code:  # a function, or a whole module (all the measuring code it holds)
        name = fn.__name__ if inspect.ismodule(fn) else f"{fn.__module__}.{fn.__qualname__}"
        h.update(f"{name}\n{inspect.getsource(fn)}".encode())
    h.update(repr(sorted((params or {}).items())).encode())
    return h.hexdigest()


def _storable(x):
    """``x`` with numpy arrays as tensors and numpy numbers as Python numbers (what ``weights_only`` loads)."""
    if isinstance(x, dict):
        return {k: _storable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return type(x)(_storable(v) for v in x)
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(x))
    if isinstance(x, np.generic):
        return x.item()
    return x


def cached(
    checkpoint: str | Path, name: str, compute: Callable[[], dict], *, code: Sequence[Callable], params: dict | None = None
) -> dict:
    """``compute()`` for the run whose checkpoint is ``checkpoint``, or what it returned last time.

    Args:
        checkpoint: the run's training checkpoint (it must exist: a run's measures need a trained run).
        name: which measures (a chapter may keep several per run).
        compute: returns a dict of numbers, strings, lists, tensors or numpy arrays (stored as tensors).
        code: the functions whose source decides the result (the measures' own functions), or modules.
        params: the settings that decide it (sample sizes, seeds, indices): plain values, part of the key.

    Raises:
        CheckpointError: for a damaged or foreign measures file (it is left untouched), or a missing checkpoint.
    """
    checkpoint = Path(checkpoint)
    if not checkpoint.exists():
        raise checkpoints.CheckpointError(f"no checkpoint {checkpoint}: measures are cached beside a trained run's checkpoint")
    path = checkpoint.with_name(f"{checkpoint.stem}.{name}.measures.pt")
    key = measure_key(checkpoint, code, params)
    if path.exists():
        stored = checkpoints.load(path, map_location="cpu")
        if not isinstance(stored, dict) or stored.get("format") != FORMAT or not isinstance(stored.get("measures"), dict):
            raise checkpoints.CheckpointError(f"{path} is not a wisetut measures file: delete it to measure again")
        if stored.get("key") == key:
            return stored["measures"]
    measures = _storable(compute())
    checkpoints.save(path, {"format": FORMAT, "key": key, "measures": measures})
    return measures
