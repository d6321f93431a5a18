"""Measures cached beside a run's checkpoint: computed once, recomputed when the run or the code changes, damage refused."""

import numpy as np
import pytest
import torch

from wisetut import cache, checkpoints
from wisetut.checkpoints import CheckpointError


def _checkpoint(path, fingerprint="a", epoch=3):
    checkpoints.save(path, {"format": 2, "fingerprint": {"run": fingerprint}, "epoch": epoch})
    return path


def measure_one():
    return 1.0


def measure_two():
    return 2.0


def test_computed_once_then_loaded_and_recomputed_on_any_change(tmp_path):
    ckpt = _checkpoint(tmp_path / "run.pt")
    calls = []

    def compute():
        calls.append(1)
        return {"score": np.float64(0.5), "importance": np.eye(2), "paths": torch.ones(2, 3), "rows": [{"x": 1.0}]}

    first = cache.cached(ckpt, "scores", compute, code=[measure_one])
    again = cache.cached(ckpt, "scores", compute, code=[measure_one])
    assert len(calls) == 1 and again["score"] == 0.5 and torch.equal(again["importance"], torch.eye(2, dtype=torch.float64))
    assert torch.equal(first["paths"], again["paths"]) and again["rows"] == [{"x": 1.0}]
    cache.cached(ckpt, "scores", compute, code=[measure_two])  # other measuring code
    assert len(calls) == 2
    _checkpoint(ckpt, epoch=4)  # the run trained further
    cache.cached(ckpt, "scores", compute, code=[measure_two])
    _checkpoint(ckpt, fingerprint="b", epoch=4)  # another run at the same path
    cache.cached(ckpt, "scores", compute, code=[measure_two])
    assert len(calls) == 4
    cache.cached(ckpt, "scores", compute, code=[measure_two], params={"n": 5})  # another setting
    cache.cached(ckpt, "scores", compute, code=[measure_two], params={"n": 5})
    assert len(calls) == 5
    assert (tmp_path / "run.scores.measures.pt").exists()


def test_damaged_measures_are_refused_and_a_run_is_needed(tmp_path):
    ckpt = _checkpoint(tmp_path / "run.pt")
    cache.cached(ckpt, "scores", lambda: {"score": 1.0}, code=[measure_one])
    path = tmp_path / "run.scores.measures.pt"
    path.write_bytes(path.read_bytes()[:-40])  # cut short, as by a full disk
    with pytest.raises(CheckpointError, match="run.scores.measures.pt"):
        cache.cached(ckpt, "scores", lambda: {"score": 1.0}, code=[measure_one])
    with pytest.raises(CheckpointError, match="no checkpoint"):
        cache.cached(tmp_path / "missing.pt", "scores", lambda: {}, code=[measure_one])


def test_a_module_as_the_measuring_code_keys_on_its_whole_source(tmp_path, monkeypatch):
    import inspect
    import sys

    ckpt = _checkpoint(tmp_path / "run.pt")
    here = sys.modules[__name__]
    key = cache.measure_key(ckpt, [here])
    assert key == cache.measure_key(ckpt, [here]) and key != cache.measure_key(ckpt, [measure_one])
    real = inspect.getsource
    monkeypatch.setattr(inspect, "getsource", lambda obj: real(obj) + ("# changed" if obj is here else ""))
    assert cache.measure_key(ckpt, [here]) != key  # any change in the module measures again
