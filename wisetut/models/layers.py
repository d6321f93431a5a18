"""Convolutions computed the fast way on the CPU, with the parameters of the ``torch.nn`` layer they replace.

Each class subclasses a ``torch.nn`` layer and changes only ``forward``: parameters, names, shapes and
initialisation are the parent's (same seed, same weights; a plain layer's state dict loads unchanged), the
output is the parent's up to float rounding (``tests/test_layers.py``), gradients reach the stored parameter,
and a fingerprint (:func:`wisetut.checkpoints.module_structure`) describes each as its ``same_function_as``.
:func:`as_torch_layers` turns a network back into plain layers. Measured in ``benchmarks/train_speed.py``.

- :class:`PointwiseConv1d`: a width-1 convolution is a matrix product over channels.
- :class:`SpaceToDepthConv1d`: a stride-2 convolution is a stride-1 convolution with a kernel half as wide
  over space-to-depth input (pairs of neighbouring samples stacked as channels).
- :class:`SubPixelConvTranspose1d`: a stride-``s`` transposed convolution of width ``k = s t`` is a stride-1
  convolution to ``s`` times the channels with ``t`` taps, then a 1-D pixel shuffle (Shi et al., 2016,
  "sub-pixel convolution"): no multiplications by inserted zeros.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["PointwiseConv1d", "SpaceToDepthConv1d", "SubPixelConvTranspose1d", "as_torch_layers"]


class PointwiseConv1d(nn.Conv1d):
    """``nn.Conv1d`` of width 1 (stride 1, no padding, no groups), computed as ``W @ x`` over channels."""

    same_function_as = nn.Conv1d

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight[:, :, 0]
        if x.shape[2] == 1:  # one position: a linear layer
            return F.linear(x[:, :, 0], w, self.bias)[:, :, None]
        # a batched product keeps the gradient of x in x's own (contiguous) layout
        y = torch.bmm(w.expand(x.shape[0], -1, -1), x)  # [N, O, C] @ [N, C, L] -> [N, O, L]
        return y if self.bias is None else y + self.bias[:, None]


def _space_to_depth_pad(size: int, k: int, pad: int) -> tuple[int, int]:
    """Left and right padding of ``size`` samples to the ``2 (n_out - 1) + k`` that a stride-2 width-``k`` window reads.

    That length is even; a negative right padding (an odd padded length) drops the one sample
    that no window reads.
    """
    if k % 2:
        raise ValueError(f"space-to-depth needs an even kernel width, got {k}")
    n_out = (size + 2 * pad - k) // 2 + 1
    return pad, 2 * (n_out - 1) + k - size - pad


class SpaceToDepthConv1d(nn.Conv1d):
    """``nn.Conv1d(c, o, k, stride=2, padding=p)`` (``k`` even) as a stride-1 convolution of width ``k/2``.

    With ``x`` padded, ``y[t] = sum_j sum_q W[:, :, 2j + q] x[2(t + j) + q]``: sample pairs
    ``(2i, 2i + 1)`` stacked as ``2c`` channels, and the kernel's taps split the same way.
    """

    same_function_as = nn.Conv1d

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 2, padding: int = 0, bias: bool = True
    ):
        if stride != 2:
            raise ValueError(f"space-to-depth is written for stride 2, got {stride}")
        _space_to_depth_pad(0, kernel_size, 0)
        super().__init__(in_channels, out_channels, kernel_size, stride=2, padding=padding, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        (k,), (p,) = self.kernel_size, self.padding
        n, c, size = x.shape
        x = F.pad(x, _space_to_depth_pad(size, k, p))
        x = x.view(n, c, -1, 2).transpose(2, 3).reshape(n, 2 * c, -1)  # channel 2 c' + q
        w = self.weight.view(self.out_channels, c, k // 2, 2).transpose(2, 3).reshape(self.out_channels, 2 * c, k // 2)
        # oneDNN may return a channels-last result (few input channels): downstream element-wise
        # ops and their backward are many times slower on mixed layouts (measured), so make it plain
        return F.conv1d(x, w, self.bias).contiguous()


class SubPixelConvTranspose1d(nn.ConvTranspose1d):
    """``nn.ConvTranspose1d(c, o, k, stride=s, padding=p)`` with ``k = s t`` as a sub-pixel convolution.

    Without padding, output sample ``s u + r`` is ``sum_m W[:, :, s m + r]^T x[u - m]`` for the
    ``t`` taps ``m``: a stride-1 convolution (kernel flipped, padding ``t - 1``) to ``s o``
    channels, one group of ``o`` per phase ``r``, whose phases are then interleaved (a 1-D pixel
    shuffle) and the ``p`` outermost samples cropped on each side.
    """

    same_function_as = nn.ConvTranspose1d

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int = 0, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias)
        if kernel_size % stride:
            raise ValueError(f"sub-pixel form needs the kernel width ({kernel_size}) a multiple of the stride ({stride})")

    def forward(self, x: Tensor) -> Tensor:
        (k,), (s,), (p,) = self.kernel_size, self.stride, self.padding
        c, o, taps = self.in_channels, self.out_channels, k // s
        n, size = x.shape[0], x.shape[2]
        if size == 1:  # one input position: a linear map to the k output samples, cropped
            y = (x[:, :, 0] @ self.weight.view(c, o * k)).view(n, o, k)[:, :, p : k - p]
            return y if self.bias is None else y + self.bias[:, None]
        # [c, o, k] -> [(r, o), c, taps], flipped along the taps (a convolution, not a correlation)
        w = self.weight.view(c, o, taps, s).permute(3, 1, 0, 2).flip(3).reshape(s * o, c, taps)
        bias = None if self.bias is None else self.bias.repeat(s)  # the same bias in every phase
        y = F.conv1d(x, w, bias, padding=taps - 1)  # [N, s o, L + taps - 1]
        y = y.view(n, s, o, -1).permute(0, 2, 3, 1).reshape(n, o, -1)  # sample s u + r
        return y[:, :, p : p + (size - 1) * s + k - 2 * p]


def as_torch_layers(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` whose fast layers are their ``torch.nn`` parents again, with the same parameters.

    The network as plain ``torch.nn`` computes it: the reference that the tests compare against,
    and the "today's step" network of ``benchmarks/train_speed.py``.
    """
    ref = copy.deepcopy(model)
    for m in ref.modules():
        if hasattr(m, "same_function_as"):
            m.__class__ = m.same_function_as
    return ref
