"""One run, one result, whoever trains it: the same bits from every launch path, one writer per checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from wisetut import checkpoints
from wisetut.cli import run_command
from wisetut.engine import CPU_THREADS, train
from wisetut.experiments import checkpoint_path, train_methods
from wisetut.runs import experiment

ROOT = Path(__file__).resolve().parents[1]
CHILD = Path(__file__).with_name("lock_child.py")
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "2", "PYTHONUNBUFFERED": "1"}


def _weights(path: Path) -> dict:
    return checkpoints.load(path, map_location="cpu")


def test_three_launch_paths_give_the_same_bits(monkeypatch, tmp_path):
    """In-process (two threads asked for), in a pool of worker processes, and from the command line."""
    monkeypatch.setenv("WISETUT_PROFILE", "quick")
    sine = experiment("sine")
    paths = {}
    # 1. in this process, after the caller asked for two threads
    monkeypatch.setenv("WISETUT_OUTPUT_DIR", str(tmp_path / "inprocess"))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        sine.train(["wise"], [0], device="cpu", progress=False)
        assert torch.get_num_threads() == 2  # restored after training
    finally:
        torch.set_num_threads(before)
    paths["in-process"] = checkpoint_path("sine", "wise", 0)
    # 2. in a pool of two worker processes, beside another run
    monkeypatch.setenv("WISETUT_OUTPUT_DIR", str(tmp_path / "pool"))
    (c,) = sine.calls(["aevb", "wise"])
    train_methods(
        "sine", c.model_fn, c.methods, c.train_x, c.test_x, c.settings, seeds=[0], device="cpu", progress=False, workers=2
    )
    paths["pool"] = checkpoint_path("sine", "wise", 0)
    # 3. from the command line, in a process with two threads
    run_command(
        [
            "train",
            "sine",
            "--profile",
            "quick",
            "--methods",
            "wise",
            "--seeds",
            "0",
            "--no-progress",
            "--output-dir",
            str(tmp_path / "cli"),
        ],
        threads=2,
        env={"PYTHONPATH": str(ROOT)},
    )
    paths["cli"] = tmp_path / "cli" / "checkpoints" / paths["pool"].name
    runs = {k: _weights(p) for k, p in paths.items()}
    first = runs["in-process"]
    assert first["cpu_threads"] == CPU_THREADS == 1  # the thread count every CPU run trains with, recorded
    for name, ckpt in runs.items():
        assert ckpt["cpu_threads"] == CPU_THREADS, name
        assert ckpt["fingerprint"] == first["fingerprint"], name
        assert ckpt["model"].keys() == first["model"].keys()
        assert all(torch.equal(ckpt["model"][k], first["model"][k]) for k in first["model"]), name
        assert ckpt["history"]["test"] == first["history"]["test"], name


def test_training_runs_with_one_thread_and_restores_the_callers():
    torch.manual_seed(0)
    from wisetut.data import make_sine_waves
    from wisetut.methods import AEVB
    from wisetut.models import sine_autoencoder

    seen = []
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        train(
            sine_autoencoder(),
            AEVB(),
            make_sine_waves(64).x,
            make_sine_waves(32, seed=1).x,
            epochs=1,
            batch_size=32,
            lr=1e-3,
            progress=False,
            device="cpu",
            on_step=lambda e, s: seen.append(torch.get_num_threads()),
        )
        assert seen == [1, 1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def _start(path: Path, lr: float, flag: Path, pause: float, hold: Path | None = None) -> subprocess.Popen:
    args = [str(path), str(lr), str(flag), str(pause)] + ([str(hold)] if hold else [])
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
    )


def _second_while_first_trains(tmp_path: Path, lr_first: float, lr_second: float):
    """Start a run, then a second one on the same path while the first holds it; release the first once the
    second has said that it waits. Returns both processes and the second one's first line."""
    path, hold = tmp_path / "run.pt", tmp_path / "hold"
    first = _start(path, lr_first, tmp_path / "first", pause=0.0, hold=hold)
    _wait_for(tmp_path / "first", first)  # the first is in its first step, holding the checkpoint
    second = _start(path, lr_second, tmp_path / "second", pause=0.0)
    waiting = second.stdout.readline()  # what the second process says before it blocks
    hold.touch()
    return first, second, waiting


def _wait_for(flag: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    t0 = time.monotonic()
    while not flag.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, "the first process never started training"
        time.sleep(0.05)


def _result(proc: subprocess.Popen) -> tuple[dict, str]:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    lines = out.strip().splitlines()
    return json.loads(lines[-1]), out


def test_two_different_runs_on_one_path_lose_nothing(tmp_path):
    first, second, waiting = _second_while_first_trains(tmp_path, 1e-3, 2e-3)
    a, _ = _result(first)
    b, _ = _result(second)
    path = tmp_path / "run.pt"
    assert a == {"steps": 18, "resumed_from": 0}  # the first run trained all its 3 x 6 steps
    # the second waited, and said for which checkpoint and for whom
    assert waiting.startswith(f"{path} is being trained by another process (pid {first.pid} on ")
    assert waiting.rstrip().endswith("waiting for it to finish")
    assert b["steps"] == 0 and "was made by a different run" in b["refused"] and "lr: checkpoint has 0.001" in b["refused"]
    ckpt = checkpoints.load(path)
    assert ckpt["epoch"] == 3 and ckpt["fingerprint"]["lr"] == 1e-3  # the first run's checkpoint, whole


def test_the_same_run_twice_is_trained_once(tmp_path):
    first, second, waiting = _second_while_first_trains(tmp_path, 1e-3, 1e-3)
    a, _ = _result(first)
    b, _ = _result(second)
    assert "is being trained by another process" in waiting
    assert a == {"steps": 18, "resumed_from": 0}
    assert b == {"steps": 0, "resumed_from": 3}  # loaded what the first one trained


def test_a_killed_holder_never_blocks_the_next_run(tmp_path):
    path = tmp_path / "run.pt"
    first = _start(path, 1e-3, tmp_path / "first", pause=5.0)
    _wait_for(tmp_path / "first", first)
    first.send_signal(signal.SIGKILL)
    first.wait()
    second = _start(path, 1e-3, tmp_path / "second", pause=0.0)
    b, _ = _result(second)
    assert b == {"steps": 18, "resumed_from": 0}  # killed in its first epoch: nothing to resume, nothing blocking


def test_exclusive_without_waiting_refuses_and_names_the_holder(tmp_path):
    path = tmp_path / "run.pt"
    first = _start(path, 1e-3, tmp_path / "first", pause=5.0)
    try:
        _wait_for(tmp_path / "first", first)
        with pytest.raises(checkpoints.CheckpointError, match=rf"being trained by another process \(pid {first.pid} on"):
            with checkpoints.exclusive(path, wait=False):
                pass
    finally:
        first.kill()
        first.wait()
