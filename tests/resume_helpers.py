"""What the resume tests share: interrupting a run at a given step, and comparing two modules' states."""

from __future__ import annotations

import torch
from torch import nn


class Interrupt(Exception):
    """Raised from an ``on_step`` hook to kill a training run mid-epoch."""


def kill_at(epoch: int, step: int):
    """An ``on_step`` hook for :func:`wisetut.engine.train` that raises :class:`Interrupt` at ``(epoch, step)``."""

    def hook(e: int, s: int) -> None:
        if (e, s) == (epoch, step):
            raise Interrupt

    return hook


def assert_same_state(a: nn.Module, b: nn.Module) -> None:
    """The two modules hold exactly the same tensors (bit for bit) under the same names."""
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
