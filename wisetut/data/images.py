"""Image tensors as the networks see them: uint8 images (``0..255``) scaled per batch on the device.

Holding a large image set (CelebA, chapter 7) as uint8 takes a quarter of the memory of float32;
:func:`as_float_batch` scales each batch just before it is used (the engine, the Fréchet distances).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["as_float_batch"]


def as_float_batch(x: Tensor) -> Tensor:
    """A uint8 image batch as float32 in [0, 1] (``x / 255``); any other tensor unchanged."""
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x
