"""What the resume and checkpoint tests share: interrupting a run at a given step, comparing two
modules' states, and corrupting a stored tensor."""

from __future__ import annotations

import struct
import zipfile

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


def flip_a_bit_inside_the_largest_tensor(path) -> str:
    """Flip one bit in the middle of the largest tensor record of a ``torch.save`` zip; returns the record's name.

    ``torch.save`` stores its records uncompressed, each after a local header of 30 bytes plus its
    name and extra field: the byte flipped is inside the tensor's raw data.
    """
    with zipfile.ZipFile(path) as z:
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    raw = bytearray(path.read_bytes())
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
    raw[info.header_offset + 30 + name_len + extra_len + info.file_size // 2] ^= 0x10
    path.write_bytes(bytes(raw))
    return info.filename
