"""Argument checks shared by the package: each error names the argument and what was expected."""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor

__all__ = ["check_count", "check_samples", "check_finite", "values_visible"]


def values_visible() -> bool:
    """Whether checks may read tensor values here: not inside a ``torch.func`` transform.

    ``vmap`` (several models stacked, ``benchmarks/train_speed.py``) cannot branch on a value, so
    the finiteness checks and the log-space switch of :mod:`wisetut.objectives` are skipped there.
    """
    return torch._C._functorch.maybe_current_level() is None


def check_count(name: str, value, least: int = 1) -> None:
    """Raise unless ``value`` is an integer (not a bool or a float) of at least ``least``.

    Raises:
        TypeError: for a float, a bool or anything else that is not an integer.
        ValueError: for an integer below ``least``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < least:
        raise ValueError(f"{name} must be at least {least}, got {value}")


def check_samples(
    name: str, t, *, like: Tensor | None = None, like_name: str = "", shape: str = "[N, d]", finite: bool = True
) -> None:
    """Raise a ``ValueError`` unless ``t`` is a finite floating-point ``shape`` (2-D) tensor (on ``like``'s device).

    Names ``name`` and says what was expected: a tensor (a numpy array: ``torch.from_numpy``), two
    dimensions, a float dtype (``.float()`` for integers), finite values (unless ``finite=False``), and,
    with ``like``, the latent size and device of ``like``.
    """
    if not isinstance(t, Tensor):
        hint = " (convert it with torch.from_numpy)" if type(t).__module__ == "numpy" else ""
        raise ValueError(f"{name} must be a torch.Tensor of shape {shape}, got {type(t).__name__}{hint}")
    if t.dim() != 2:
        raise ValueError(f"{name} must have shape {shape} (2 dimensions), got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {t.dtype} (convert it with .float())")
    if like is not None:
        if t.shape[1] != like.shape[1]:
            raise ValueError(f"{name} must have {like_name}'s latent size {like.shape[1]}, got shape {tuple(t.shape)}")
        if t.device != like.device:
            raise ValueError(f"{name} must be on {like_name}'s device {like.device}, got {t.device}")
    if finite:
        check_finite(name, t)


def check_finite(name: str, t: Tensor) -> None:
    """Raise a ``ValueError`` naming ``name`` if ``t`` holds a NaN or an infinity (not inside ``vmap``).

    One reduction (the sum: a NaN or an infinity makes it non-finite); the exact count only then.
    """
    if not values_visible() or math.isfinite(t.sum().item()):
        return
    bad = int((~torch.isfinite(t)).sum())
    if bad:
        raise ValueError(f"{name} must be finite, got {bad} NaN or infinite values")
