"""Faces for chapter 7: real CelebA when it is on disk, else a named stand-in of real photographs.

Where CelebA is missing (it is never downloaded: :mod:`wisetut.data.celeba`), :func:`load_faces` returns a
**stand-in**: 64x64 RGB crops of the 8 colour photographs that scikit-image ships (``skimage.data``: an
astronaut, a cat, coffee, the Hubble deep field, a tissue stain, a retina, a rocket launch, a motorcycle).
They are real photographs, not faces, and every record names them as a stand-in. Images are uint8
``[N, 3, 64, 64]``, as the CelebA cache. :func:`photo_crops` cuts them:

- each crop is a square of side ``s`` drawn uniformly from ``[64, min(H, W) / 4]`` at a uniform position,
  resized to 64x64 (antialiased bilinear) and mirrored left-right with probability 1/2; nearly flat crops
  (pixel standard deviation below 4/255) are drawn again; each photograph gives the same number of crops;
- **the held-out split is by region**: held-out crops lie in the right quarter of each photograph and
  training crops in the left three quarters, so no held-out pixel was seen in training (the same 8
  scenes, though: an easier test than CelebA's unseen people).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from wisetut.data.celeba import SIZE, load_celeba

__all__ = ["FacesData", "load_faces", "photo_crops", "stand_in_photos", "STAND_IN_NAME", "PHOTOS"]

# the colour photographs of skimage.data (cat() is chelsea(); colorwheel and logo are drawings)
PHOTOS = ("astronaut", "chelsea", "coffee", "hubble_deep_field", "immunohistochemistry", "retina", "rocket", "motorcycle")
STAND_IN_NAME = "scikit-image photo crops (stand-in for CelebA)"
HELD_OUT_FRACTION = 0.25  # the right quarter of every photograph is held out
_MIN_STD = 4.0  # of 255: flatter crops are drawn again


def stand_in_photos() -> dict[str, Tensor]:
    """The 8 colour photographs of scikit-image as uint8 ``[3, H, W]`` tensors, by name."""
    try:
        import skimage.data as skd
    except ImportError as e:  # a dependency of wisetut; only a broken install lands here
        raise ImportError("the CelebA stand-in needs scikit-image: pip install scikit-image") from e
    photos = {}
    for name in PHOTOS:
        img = skd.stereo_motorcycle()[0] if name == "motorcycle" else getattr(skd, name)()  # the left view
        photos[name] = torch.from_numpy(img[..., :3].copy()).permute(2, 0, 1).contiguous()
    return photos


def photo_crops(n: int, split: str, seed: int = 0, photos: dict[str, Tensor] | None = None) -> Tensor:
    """``n`` 64x64 crops ``[n, 3, 64, 64]`` (uint8) of the stand-in photographs for ``split``.

    ``split`` is ``"train"`` (the left three quarters of each photograph) or ``"test"`` (the
    right quarter). The same ``(n, split, seed)`` gives the same crops.
    """
    from torchvision.transforms.v2 import functional as TF

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    photos = stand_in_photos() if photos is None else photos
    g = torch.Generator().manual_seed(seed * 2 + (split == "test"))
    names = list(photos)
    out = torch.empty(n, 3, SIZE, SIZE, dtype=torch.uint8)
    for i in range(n):
        img = photos[names[i % len(names)]]
        h, w = img.shape[1:]
        cut = int(round(w * (1 - HELD_OUT_FRACTION)))
        x0, x1 = (0, cut) if split == "train" else (cut, w)
        s_max = min(h, w) // 4
        while True:
            s = int(torch.randint(SIZE, s_max + 1, (1,), generator=g))
            top = int(torch.randint(0, h - s + 1, (1,), generator=g))
            left = x0 + int(torch.randint(0, x1 - x0 - s + 1, (1,), generator=g))
            crop = TF.resize(img[:, top : top + s, left : left + s], [SIZE, SIZE], antialias=True)
            if crop.float().std() >= _MIN_STD:
                break
        out[i] = crop.flip(-1) if bool(torch.rand(1, generator=g) < 0.5) else crop
    return out


@dataclass
class FacesData:
    """Train and held-out images (uint8 ``[N, 3, 64, 64]``), what they are and where they came from."""

    x_train: Tensor
    x_test: Tensor
    name: str
    source: str
    is_celeba: bool

    def info(self) -> dict:
        """The ``data`` record of a results file: name, source, sizes."""
        return {"name": self.name, "source": self.source, "n_train": len(self.x_train), "n_test": len(self.x_test)}


def load_faces(
    n_train: int | None, n_test: int | None, root: str | Path = "data", seed: int = 0, progress: bool = True
) -> FacesData:
    """CelebA's official train and test splits from ``root`` when they are there, else the stand-in.

    ``n_train`` / ``n_test`` take the first images of CelebA's splits (``None``: all of them); the
    stand-in cuts that many crops (``None`` is 10,000 and 1,000). ``source`` says which was used,
    and why the stand-in (the error CelebA's loader raised).
    """
    try:
        train = load_celeba(root, "train", n_train, progress=progress)
        test = load_celeba(root, "test", n_test, progress=progress)
        return FacesData(train.x, test.x, "CelebA", train.source, True)
    except FileNotFoundError as e:
        reason = str(e).splitlines()[0].split(". ")[0]
    x_train = photo_crops(n_train or 10_000, "train", seed)
    x_test = photo_crops(n_test or 1_000, "test", seed)
    source = (
        f"stand-in: {len(PHOTOS)} colour photographs of scikit-image (skimage.data), random 64x64 crops; "
        f"held-out crops from the right quarter of each photograph (CelebA unavailable: {reason})"
    )
    return FacesData(x_train, x_test, STAND_IN_NAME, source, False)
