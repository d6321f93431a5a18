"""Sine waves exactly as Section 5 describes them.

``x(t) = A sin(2 pi f t + phi) + eps`` sampled at 256 Hz for one second (256 samples), with
``f ~ U(0, 20 Hz)``, ``phi ~ U(0, 2 pi)``, ``A ~ U(0, 2)`` drawn independently per wave and
"small random noise" ``eps``: the paper gives no level, we use i.i.d. ``N(0, 0.05^2)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from wisetut.profiles import Settings

__all__ = ["SineData", "make_sine_waves", "sine_splits", "fitted_amplitude", "NOISE_STD"]

NOISE_STD = 0.05
SAMPLE_RATE = 256  # Hz, one second per wave


@dataclass
class SineData:
    """Waves ``x`` ``[N, 1, 256]`` and the parameters that made them (``[N]`` each)."""

    x: Tensor
    frequency: Tensor
    phase: Tensor
    amplitude: Tensor

    def __len__(self) -> int:
        return self.x.shape[0]


def make_sine_waves(n: int, seed: int = 0, noise_std: float = NOISE_STD) -> SineData:
    """``n`` noisy sine waves of 256 samples, reproducible from ``seed`` (float32, CPU)."""
    if n <= 0:
        raise ValueError(f"n must be a positive number of waves, got {n}")
    g = torch.Generator().manual_seed(seed)
    f = 20.0 * torch.rand(n, 1, generator=g, dtype=torch.float64)
    phi = 2 * math.pi * torch.rand(n, 1, generator=g, dtype=torch.float64)
    amp = 2.0 * torch.rand(n, 1, generator=g, dtype=torch.float64)
    t = torch.arange(SAMPLE_RATE, dtype=torch.float64) / SAMPLE_RATE
    x = amp * torch.sin(2 * math.pi * f * t + phi) + noise_std * torch.randn(n, SAMPLE_RATE, generator=g, dtype=torch.float64)
    return SineData(x.float().unsqueeze(1), f.squeeze(1).float(), phi.squeeze(1).float(), amp.squeeze(1).float())


def sine_splits(settings: Settings, seed: int = 0) -> tuple[SineData, SineData]:
    """A training set of ``settings.n_train`` waves and a held-out set of ``settings.n_test``.

    The two sets come from different seeds, so no held-out wave was seen in training.
    """
    return make_sine_waves(settings.n_train, seed=2 * seed), make_sine_waves(settings.n_test, seed=2 * seed + 1)


def fitted_amplitude(x: Tensor, frequency: Tensor) -> Tensor:
    """The amplitude of each wave of ``x`` ``[N, 1, 256]`` at its own ``frequency`` ``[N]`` (Hz).

    The least-squares fit ``x(t) ~ a sin(2 pi f t) + b cos(2 pi f t) + c`` gives the amplitude
    ``sqrt(a^2 + b^2)`` whatever the phase; applied to a reconstruction, it says how well the
    model predicts a wave's amplitude (Section 5.1: AEVB and beta-VAE "have difficulty predicting
    the amplitude"), apart from the squared error, which grows with ``A^2`` for every model. The
    fit is well posed for waves of at least one cycle (``f >= 1`` Hz); below that, a part of a
    cycle and a constant look alike and the amplitude is not identified.
    """
    if x.ndim != 3 or x.shape[1:] != (1, SAMPLE_RATE) or frequency.shape != x.shape[:1]:
        raise ValueError(
            f"expected waves [N, 1, {SAMPLE_RATE}] and frequencies [N], got {tuple(x.shape)} and {tuple(frequency.shape)}"
        )
    t = torch.arange(SAMPLE_RATE, dtype=torch.float64) / SAMPLE_RATE
    w = 2 * math.pi * frequency.double().unsqueeze(1) * t  # [N, 256]
    basis = torch.stack([torch.sin(w), torch.cos(w), torch.ones_like(w)], dim=2)  # [N, 256, 3]
    coef = torch.linalg.lstsq(basis, x.double().squeeze(1).unsqueeze(2), driver="gelsd").solution  # [N, 3, 1]
    return coef[:, :2, 0].norm(dim=1).float()
