"""The teapot renderer, its networks, the disentanglement metrics (DCI, MIG) and traversal smoothness."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from wisetut.data.teapots import (
    FACTOR_NAMES,
    FACTOR_RANGES,
    TARGET_GROUPS,
    azimuth_targets,
    load_teapots,
    make_teapots,
    render_teapots,
    sample_factors,
)
from wisetut.disentanglement import dci, entropic_scores, mig
from wisetut.models.base import AutoEncoder
from wisetut.models.teapots import teapots_autoencoder
from wisetut.traversals import smoothness, traversal_ranges, traverse

BASE = torch.tensor([[0.7, 0.5, 0.8, 0.5, 0.3]])  # azimuth, elevation, red, green, blue


def test_render_shape_range_and_determinism():
    x, f = make_teapots(6, size=32, seed=3)
    assert x.dtype == torch.uint8 and x.shape == (6, 3, 32, 32) and f.shape == (6, 5)
    assert x.max() > 100 and (x == 0).any()  # a lit teapot on a black background
    x2, f2 = make_teapots(6, size=32, seed=3)
    assert torch.equal(x, x2) and torch.equal(f, f2)
    assert not torch.equal(make_teapots(6, size=32, seed=4)[0], x)
    for j, name in enumerate(FACTOR_NAMES):
        lo, hi = FACTOR_RANGES[name]
        assert lo <= f[:, j].min() and f[:, j].max() <= hi


def test_factors_drawn_uniformly_over_their_ranges():
    f = sample_factors(20_000, seed=0)
    for j, name in enumerate(FACTOR_NAMES):
        lo, hi = FACTOR_RANGES[name]
        assert f[:, j].mean().item() == pytest.approx((lo + hi) / 2, abs=0.02 * (hi - lo))
    assert abs(np.corrcoef(f.numpy().T)[np.triu_indices(5, 1)]).max() < 0.05  # independent


@pytest.mark.parametrize("j, delta", [(0, 0.5), (1, 0.4), (2, -0.4), (3, 0.4), (4, 0.4)])
def test_each_factor_changes_the_image(j, delta):
    moved = BASE.clone()
    moved[0, j] += delta
    a, b = render_teapots(torch.cat([BASE, moved]), size=32).float()
    assert (a - b).abs().mean() > 1.0  # of 255, averaged over all pixels
    if j >= 2:  # colour changes only its own channel
        other = [c for c in range(3) if c != j - 2]
        assert torch.equal(a[other], b[other])


def test_every_azimuth_is_distinguishable():
    # the spout and the handle break the symmetry: turning by half a turn, or mirroring, changes the image
    az = torch.tensor([0.3, 0.3 + math.pi, -0.3 % (2 * math.pi)])
    f = BASE.repeat(3, 1)
    f[:, 0] = az
    x = render_teapots(f, size=32).float()
    assert (x[0] - x[1]).abs().mean() > 2.0 and (x[0] - x[2]).abs().mean() > 2.0


def test_load_teapots_caches(tmp_path):
    d = load_teapots(8, 4, size=32, root=tmp_path, seed=1)
    again = load_teapots(8, 4, size=32, root=tmp_path, seed=1)
    assert "cache" in again.source and torch.equal(d.x_train, again.x_train) and torch.equal(d.f_test, again.f_test)
    assert not torch.equal(d.f_train[:4], d.f_test)  # held-out factors are new draws
    assert "in the spirit of Eastwood & Williams" in d.info()["name"]


def test_teapots_autoencoder_shapes():
    for size in (32, 64):
        model = teapots_autoencoder(10, size)
        x = torch.rand(2, 3, size, size)
        mu, logvar = model.encode(x)
        assert mu.shape == (2, 10) and model.decode(mu).shape == (2, 3, size, size)
    with pytest.raises(ValueError, match="size 32 or 64"):
        teapots_autoencoder(10, 48)


def _factors(n=3000, seed=0):
    return np.random.default_rng(seed).uniform(size=(n, 5))


@pytest.mark.parametrize("regressor", ["lasso", "forest"])
def test_dci_perfect_rotated_uninformative(regressor):
    v = _factors()
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    split = lambda c: (c[:2000], v[:2000], c[2000:], v[2000:])  # noqa: E731
    perfect = dci(*split(np.concatenate([v, np.zeros((3000, 2))], 1)), regressor=regressor)  # plus two dead codes
    rotated = dci(*split(v @ q), regressor=regressor)
    noise = dci(*split(rng.normal(size=(3000, 5))), regressor=regressor)
    assert perfect["disentanglement"] == pytest.approx(1.0, abs=0.02)
    assert perfect["completeness"] == pytest.approx(1.0, abs=0.02)
    assert perfect["informativeness"] < 0.05  # held-out NRMSE: near-perfect prediction
    assert rotated["disentanglement"] < 0.5 and rotated["completeness"] < 0.5
    assert noise["disentanglement"] < 0.05 and noise["completeness"] < 0.05 and noise["informativeness"] > 0.95


def test_dci_groups_azimuth_into_one_factor():
    f = torch.from_numpy(_factors()).float() * torch.tensor([2 * math.pi, 1, 1, 1, 1])
    t = azimuth_targets(f).numpy()
    codes = t  # a code that holds (cos, sin) in two coordinates and each other factor in one
    r = dci(codes[:2000], t[:2000], codes[2000:], t[2000:], groups=TARGET_GROUPS, regressor="lasso")
    assert r["disentanglement"] == pytest.approx(1.0, abs=0.02)  # each code informs one factor only
    assert r["per_factor"][0] == pytest.approx(1 - math.log(2) / math.log(6), abs=0.02)  # azimuth spread over 2 of 6
    with pytest.raises(ValueError, match="every one"):
        dci(codes, t, codes, t, groups=[[0], [1]])


def test_entropic_scores():
    s = entropic_scores(np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]]))
    assert s.tolist() == pytest.approx([1.0, 0.0, 0.0])


def test_mig_perfect_rotated_uninformative():
    v = _factors()
    rng = np.random.default_rng(2)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    assert mig(np.concatenate([v, rng.normal(size=(3000, 3))], 1), v)["mig"] > 0.95
    assert mig(v @ q, v)["mig"] < 0.3
    assert mig(rng.normal(size=(3000, 5)), v)["mig"] < 0.03


def test_smoothness_of_a_ramp_and_a_jump():
    t = torch.linspace(0, 1, 9)
    ramp = t.view(1, 1, 9, 1).expand(1, 1, 9, 16)
    jump = (t > 0.5).float().view(1, 1, 9, 1).expand(1, 1, 9, 16)
    back = torch.sin(math.pi * t).view(1, 1, 9, 1).expand(1, 1, 9, 16)  # goes out and comes back
    r, j, b = smoothness(ramp), smoothness(jump), smoothness(back)
    assert r["roughness"] == pytest.approx(1.0) and r["monotone"] == 1.0
    assert j["roughness"] == pytest.approx(8.0) and j["monotone"] == 1.0
    assert b["monotone"] == 0.0
    assert r["change_per_step"] == pytest.approx(1 / 8)


def test_traverse_sweeps_one_coordinate():
    # an identity decoder: each decoded "image" is the code itself
    model = AutoEncoder(nn.Linear(3, 6), nn.Identity(), 3, likelihood="gaussian", data_shape=(3,))
    z = torch.randn(2, 3)
    ranges = traversal_ranges(torch.randn(500, 3))
    paths = traverse(model, z, ranges, steps=5)  # [2, 3, 5, 3]
    assert paths.shape == (2, 3, 5, 3)
    for j in range(3):
        assert torch.allclose(paths[:, j, :, j], torch.linspace(0, 1, 5) * (ranges[j, 1] - ranges[j, 0]) + ranges[j, 0])
        others = [k for k in range(3) if k != j]
        assert torch.equal(paths[:, j, :, others], z[:, None, others].expand(2, 5, 2))
    assert traverse(teapots_autoencoder(3, 32), z, ranges, steps=4).shape == (2, 3, 4, 3, 32, 32)


def test_dci_lasso_reaches_the_optimum_on_nearly_collinear_codes():
    """A trained encoder's codes can be nearly collinear. The Lasso whose weights are DCI's importances must
    still be solved: its optimality (KKT) conditions hold, |X'r / n| <= alpha with equality on the used codes
    (coordinate descent with 5,000 sweeps stopped far from this on such codes, and on chapter 9's)."""
    from wisetut.disentanglement import _fit, _standardise

    rng = np.random.default_rng(0)
    b, d = rng.normal(size=(2000, 3)), rng.normal(size=(2000, 1))
    codes = np.concatenate([b, b + 1e-2 * d, b[:, :1] - b[:, 1:2], rng.normal(size=(2000, 3))], 1)
    (x,), (y,) = _standardise(codes), _standardise(d + 0.05 * rng.normal(size=(2000, 1)))
    model, importance = _fit("lasso", x, y[:, 0], seed=0)
    grad = x.T @ (y[:, 0] - model.predict(x)) / len(x)
    alpha, used = model.alpha, model.coef_ != 0
    assert used.any() and np.allclose(importance, np.abs(model.coef_))
    assert np.all(np.abs(grad) <= alpha * (1 + 1e-6) + 1e-10)
    assert np.allclose(grad[used], alpha * np.sign(model.coef_[used]), rtol=1e-5, atol=1e-10)
