"""The CelebA loader on a tiny folder of real JPEG files, in torchvision's and in Kaggle's layout."""

from __future__ import annotations

import os

import pytest
import torch
from PIL import Image
from resume_helpers import flip_a_bit_inside_the_largest_tensor

from wisetut.data.celeba import crop_and_resize, load_celeba, locate_celeba

PARTS = {"000001.jpg": 0, "000002.jpg": 0, "000003.jpg": 0, "000004.jpg": 1, "000005.jpg": 2, "000006.jpg": 2}


def _face(i: int) -> Image.Image:
    # a 178-wide, 218-high "aligned face": a gradient, with a bright 10-pixel band at the top that the crop removes
    g = torch.Generator().manual_seed(i)
    img = torch.linspace(0, 255, 178).repeat(218, 1)[None].repeat(3, 1, 1) * torch.rand(3, 1, 1, generator=g)
    img[:, :10] = 255
    return Image.fromarray(img.permute(1, 2, 0).round().to(torch.uint8).numpy())


def _write(image_dir, partition_path, csv_format):
    image_dir.mkdir(parents=True)
    for i, name in enumerate(PARTS):
        _face(i).save(image_dir / name, quality=95)
    if csv_format:
        partition_path.write_text("image_id,partition\n" + "".join(f"{k},{v}\n" for k, v in PARTS.items()))
    else:
        partition_path.write_text("".join(f"{k} {v}\n" for k, v in PARTS.items()))


@pytest.fixture(params=["torchvision", "kaggle"])
def celeba_root(tmp_path, request):
    if request.param == "torchvision":
        _write(tmp_path / "celeba" / "img_align_celeba", tmp_path / "celeba" / "list_eval_partition.txt", csv_format=False)
    else:
        _write(tmp_path / "img_align_celeba" / "img_align_celeba", tmp_path / "list_eval_partition.csv", csv_format=True)
    return tmp_path


def test_both_layouts_load_through_the_same_code(celeba_root):
    files = locate_celeba(celeba_root)
    assert files.layout in ("torchvision folder", "Kaggle")  # the tiny list files do not verify against torchvision's MD5s
    train = load_celeba(celeba_root, "train", progress=False)
    assert train.x.shape == (3, 3, 64, 64) and train.x.dtype == torch.uint8
    f = train.as_float()
    assert f.dtype == torch.float32 and 0.0 <= f.min() and f.max() <= 1.0
    assert train.x[:, :, :2].float().mean() < 250  # the bright band above the centre crop is gone
    assert len(load_celeba(celeba_root, "test", progress=False).x) == 2
    assert load_celeba(celeba_root, "valid", progress=False).info()["n"] == 1


def test_cache_is_used_and_rebuilt_when_the_source_changes(celeba_root):
    first = load_celeba(celeba_root, "train", progress=False)
    assert "cached" not in first.source
    again = load_celeba(celeba_root, "train", progress=False)
    assert "cached" in again.source and torch.equal(first.x, again.x)
    image = locate_celeba(celeba_root).image_dir / "000002.jpg"
    Image.new("RGB", (178, 218), (0, 0, 0)).save(image)  # the source changes
    os.utime(image, ns=(1, 1))
    rebuilt = load_celeba(celeba_root, "train", progress=False)
    assert "cached" not in rebuilt.source and rebuilt.x[1].max() <= 2 and not torch.equal(rebuilt.x, first.x)


def test_missing_folder_names_the_manual_route(tmp_path):
    with pytest.raises(FileNotFoundError, match="(?s)not found.*by hand.*list_eval_partition.txt.*Kaggle"):
        load_celeba(tmp_path, "train")


def test_bad_requests_are_clear_errors(celeba_root):
    with pytest.raises(ValueError, match="split must be one of"):
        load_celeba(celeba_root, "validation")
    with pytest.raises(ValueError, match="n must be"):
        load_celeba(celeba_root, "train", n=0)
    with pytest.raises(ValueError, match=r"RGB image \[3, H, W\]"):
        crop_and_resize(torch.zeros(1, 218, 178, dtype=torch.uint8))
    os.remove(locate_celeba(celeba_root).image_dir / "000001.jpg")
    with pytest.raises(FileNotFoundError, match="missing"):
        load_celeba(celeba_root, "train", progress=False)


def test_crop_and_resize_shape():
    out = crop_and_resize(torch.randint(0, 256, (3, 218, 178), dtype=torch.uint8))
    assert out.shape == (3, 64, 64) and out.dtype == torch.uint8


def test_a_corrupted_cache_is_rebuilt_with_a_warning(celeba_root):
    first = load_celeba(celeba_root, "train", progress=False)
    (cache,) = (celeba_root / "celeba64_cache").glob("celeba64-train-*.pt")
    flip_a_bit_inside_the_largest_tensor(cache)
    with pytest.warns(UserWarning, match="rebuilding the CelebA crop cache.*corrupted"):
        rebuilt = load_celeba(celeba_root, "train", progress=False)
    assert "cached" not in rebuilt.source and torch.equal(rebuilt.x, first.x)
    assert "cached" in load_celeba(celeba_root, "train", progress=False).source  # and stored again, intact
