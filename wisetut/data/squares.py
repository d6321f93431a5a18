"""The fading squares of Rubenstein et al. (2018), as the WAE slides (Tolstikhin et al., 2018) show them.

"32x32 pixel images of centred, grey squares on a black background": the only factor of
variation is the grey level, so the data's intrinsic dimension is 1. The slides give neither the
square's size nor the distribution of the grey level; we use a 16x16 square and a grey level
``g ~ U(0, 1)``, seeded.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["FadingSquares", "make_fading_squares", "square_mask", "grey_level", "distance_to_squares"]

SIZE, SQUARE = 32, 16


def square_mask(size: int = SIZE, square: int = SQUARE) -> Tensor:
    """``[1, size, size]``: 1 on the centred ``square x square`` block, 0 elsewhere."""
    if not 0 < square <= size or (size - square) % 2:
        raise ValueError(f"need 0 < square <= size with an even margin, got square={square}, size={size}")
    m = torch.zeros(1, size, size)
    a = (size - square) // 2
    m[:, a : a + square, a : a + square] = 1.0
    return m


@dataclass
class FadingSquares:
    """Images ``x`` ``[N, 1, 32, 32]`` in [0, 1] and their grey levels ``[N]``."""

    x: Tensor
    grey: Tensor


def make_fading_squares(n: int, seed: int = 0) -> FadingSquares:
    """``n`` fading squares with grey levels ``U(0, 1)``, reproducible from ``seed``."""
    if n <= 0:
        raise ValueError(f"n must be a positive number of images, got {n}")
    g = torch.rand(n, generator=torch.Generator().manual_seed(seed))
    return FadingSquares(g.view(n, 1, 1, 1) * square_mask(), g)


def grey_level(images: Tensor) -> Tensor:
    """Per image, the grey level of the nearest fading square ``[N]``: ``clip(<x, mask> / |mask|, 0, 1)``.

    For decoded prior samples, the distribution of these levels against the data's ``U(0, 1)`` says
    whether the prior's mass lands on the data in the right proportions (chapter 6).
    """
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, SIZE, SIZE):
        raise ValueError(f"expected images [N, 1, {SIZE}, {SIZE}], got {tuple(images.shape)}")
    mask = square_mask().to(images)
    return ((images * mask).flatten(1).sum(1) / mask.sum()).clamp(0.0, 1.0)


def distance_to_squares(images: Tensor) -> Tensor:
    """Per image, the root-mean-square distance to the nearest fading square ``[N]``.

    The nearest square has grey level ``g* = clip(<x, mask> / |mask|, 0, 1)`` (least squares), so a
    decoded sample that *is* a fading square scores 0 and anything else (a blend, a smear) scores
    more. This measures whether samples from the prior land on the data.
    """
    g = grey_level(images)
    return (images - g.view(-1, 1, 1, 1) * square_mask().to(images)).square().flatten(1).mean(1).sqrt()
