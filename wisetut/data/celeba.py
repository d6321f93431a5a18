"""CelebA faces (Liu et al., 2015) as the paper uses them: aligned, centre-cropped, 64x64 RGB.

The real data set is used whenever its files are on disk, in either common layout:

- torchvision's: ``<root>/celeba/img_align_celeba/*.jpg`` beside ``list_eval_partition.txt`` (and the
  other list files, whose MD5s torchvision checks); when they verify, torchvision's ``CelebA`` lists
  the split's files;
- the Kaggle copy: ``<root>/img_align_celeba/img_align_celeba/*.jpg`` (or ``<root>/img_align_celeba/*.jpg``)
  beside ``<root>/list_eval_partition.csv``.

Each aligned 218x178 face is centre-cropped to 178x178 and resized to 64x64 (antialiased bilinear),
the preprocessing of the WAE code that the paper's Appendix D.3 borrows. The crops are decoded once into
a uint8 cache, rebuilt when the source files change. Nothing is downloaded: a missing data set is an
error that says how to get it.
"""

from __future__ import annotations

import csv
import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from tqdm.auto import tqdm

from wisetut import checkpoints

__all__ = ["CelebAData", "CelebAFiles", "locate_celeba", "load_celeba", "crop_and_resize", "SPLITS", "HOW_TO_GET"]

SPLITS = {"train": 0, "valid": 1, "test": 2}
SIZE = 64
_CACHE_FORMAT = 1

HOW_TO_GET = (
    "CelebA was not found under {root}. Nothing is downloaded automatically. Either\n"
    "  (a) torchvision: `torchvision.datasets.CelebA('{root}', download=True)` (its Google Drive download "
    "often fails with a quota error); or\n"
    "  (b) by hand, from the official page (https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html, 'Align&Cropped "
    "Images'): unzip img_align_celeba.zip into {root}/celeba/ and put list_eval_partition.txt beside it, giving "
    "{root}/celeba/img_align_celeba/000001.jpg and {root}/celeba/list_eval_partition.txt; or\n"
    "  (c) the Kaggle copy: `kaggle datasets download jessicali9530/celeba-dataset` and unzip it into {root}, "
    "giving {root}/img_align_celeba/img_align_celeba/000001.jpg and {root}/list_eval_partition.csv."
)


@dataclass
class CelebAFiles:
    """Where the images are, which split each belongs to (0 train, 1 valid, 2 test), and the layout found."""

    image_dir: Path
    partition: dict[str, int]
    layout: str

    def files(self, split: str) -> list[str]:
        """The file names of ``split`` (``train``, ``valid``, ``test``), in the partition file's order."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
        return [name for name, part in self.partition.items() if part == SPLITS[split]]


@dataclass
class CelebAData:
    """Faces ``[N, 3, 64, 64]`` as uint8 (``x``), the split, and where they came from."""

    x: Tensor
    split: str
    source: str

    def as_float(self) -> Tensor:
        """The faces as float32 in [0, 1] (4x the memory of :attr:`x`)."""
        return self.x.float().div_(255.0)

    def info(self) -> dict:
        return {"name": "CelebA", "source": self.source, "split": self.split, "n": len(self.x)}


def _read_partition_txt(path: Path) -> dict[str, int]:
    with open(path) as f:
        return {row[0]: int(row[1]) for row in csv.reader(f, delimiter=" ", skipinitialspace=True) if len(row) >= 2}


def _read_partition_csv(path: Path) -> dict[str, int]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or [c.strip() for c in rows[0][:2]] != ["image_id", "partition"]:
        raise ValueError(f"{path} should start with the header 'image_id,partition'")
    return {r[0]: int(r[1]) for r in rows[1:] if len(r) >= 2}


def _torchvision_partition(root: Path) -> dict[str, int] | None:
    """The partition through torchvision's ``CelebA`` when its files verify (MD5s), else ``None``."""
    try:
        from torchvision.datasets import CelebA

        return {
            name: part for part, split in enumerate(SPLITS) for name in CelebA(str(root), split=split, target_type=[]).filename
        }
    except Exception:  # missing or unverifiable list files: read the folder directly
        return None


def locate_celeba(root: str | Path) -> CelebAFiles:
    """Find CelebA under ``root`` in torchvision's or Kaggle's layout.

    Raises:
        FileNotFoundError: if neither layout is there, with the ways to get the data.
    """
    root = Path(root)
    tv = root / "celeba"
    if (tv / "img_align_celeba").is_dir() and (tv / "list_eval_partition.txt").is_file():
        verified = _torchvision_partition(root)
        if verified is not None:
            return CelebAFiles(tv / "img_align_celeba", verified, "torchvision (verified)")
        return CelebAFiles(tv / "img_align_celeba", _read_partition_txt(tv / "list_eval_partition.txt"), "torchvision folder")
    if (root / "list_eval_partition.csv").is_file():
        for image_dir in (root / "img_align_celeba" / "img_align_celeba", root / "img_align_celeba"):
            if image_dir.is_dir() and any(image_dir.glob("*.jpg")):
                return CelebAFiles(image_dir, _read_partition_csv(root / "list_eval_partition.csv"), "Kaggle")
    raise FileNotFoundError(HOW_TO_GET.format(root=root))


def crop_and_resize(image: Tensor) -> Tensor:
    """An aligned face ``[3, H, W]`` (uint8): centre crop of ``min(H, W)`` (178), resize to 64x64 (antialiased)."""
    from torchvision.transforms.v2 import functional as TF

    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"expected an RGB image [3, H, W], got {tuple(image.shape)}")
    side = min(image.shape[1:])
    return TF.resize(TF.center_crop(image, [side, side]), [SIZE, SIZE], antialias=True)


def _source_key(files: CelebAFiles, names: list[str]) -> str:
    """Changes whenever a file of the split is added, removed, resized or rewritten."""
    h = hashlib.sha256(f"{files.layout}|{files.image_dir.resolve()}|{SIZE}".encode())
    for name in names:
        st = os.stat(files.image_dir / name)
        h.update(f"{name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:20]


def load_celeba(
    root: str | Path, split: str = "train", n: int | None = None, cache_dir: str | Path | None = None, progress: bool = True
) -> CelebAData:
    """The 64x64 crops of a CelebA split (the first ``n`` of it if given), from the uint8 cache or built into it.

    The cache lives in ``cache_dir`` (default ``<root>/celeba64_cache``) and is rebuilt when the
    split's source files change.

    Raises:
        FileNotFoundError: if CelebA is not under ``root`` (the message says how to get it), or an image
            of the partition list is missing.
        ValueError: for an unknown split or ``n < 1``.
    """
    from PIL import Image
    from torchvision.transforms.v2.functional import pil_to_tensor

    files = locate_celeba(root)
    names = files.files(split)
    if n is not None:
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        names = names[:n]
    if not names:
        raise FileNotFoundError(f"the partition list under {root} has no images in split {split!r}")
    missing = [name for name in names[:10] if not (files.image_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)}+ images of split {split!r} are missing from {files.image_dir}, e.g. {missing[0]}"
        )
    cache = Path(cache_dir) if cache_dir is not None else Path(root) / "celeba64_cache"
    path = cache / f"celeba64-{split}-{len(names)}.pt"
    key = _source_key(files, names)
    if path.is_file():
        try:
            saved = checkpoints.load(path)
        except checkpoints.CheckpointError as e:
            warnings.warn(f"rebuilding the CelebA crop cache: {e}", stacklevel=2)
            saved = None
        if isinstance(saved, dict) and saved.get("format") == _CACHE_FORMAT and saved.get("key") == key:
            return CelebAData(saved["x"], split, f"CelebA ({files.layout}, cached 64x64 crops)")
    x = torch.empty(len(names), 3, SIZE, SIZE, dtype=torch.uint8)
    for i, name in enumerate(tqdm(names, desc=f"CelebA {split}: decoding and cropping", disable=not progress, unit="img")):
        with Image.open(files.image_dir / name) as img:
            x[i] = crop_and_resize(pil_to_tensor(img.convert("RGB")))
    checkpoints.save(path, {"format": _CACHE_FORMAT, "key": key, "x": x})
    return CelebAData(x, split, f"CelebA ({files.layout})")
