"""Sharpness and Fréchet distances against hand-computed values; the digit classifier; generation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from resume_helpers import flip_a_bit_inside_the_largest_tensor

from wisetut.checkpoints import CheckpointError
from wisetut.generate import decode_mean, interpolate, sample_prior
from wisetut.image_metrics import features_of, frechet_distance, sharpness
from wisetut.models import mnist_autoencoder
from wisetut.models.classifier import DigitClassifier, digit_classifier


def test_sharpness_of_a_single_bright_pixel_by_hand():
    # 4x4 zeros with img[1, 1] = 1. VALID Laplace output (2x2) at centres (1,1), (1,2), (2,1), (2,2):
    # -4, 1 (left neighbour), 1 (upper neighbour), 0. Mean -1/2; variance (3.5^2 + 2 * 1.5^2 + 0.5^2) / 4 = 17/4.
    img = torch.zeros(1, 1, 4, 4)
    img[0, 0, 1, 1] = 1.0
    assert sharpness(img).item() == pytest.approx(17 / 4)


def test_sharpness_flat_and_linear_images_are_zero_and_rgb_uses_luma():
    flat = torch.full((2, 1, 8, 8), 0.3)
    ramp = torch.arange(8.0).repeat(8, 1).view(1, 1, 8, 8) / 8  # the Laplacian of a linear ramp is 0
    assert sharpness(flat).tolist() == [0.0, 0.0]
    assert sharpness(ramp).item() == pytest.approx(0.0, abs=1e-12)
    img = torch.zeros(1, 1, 4, 4)
    img[0, 0, 1, 1] = 1.0
    green = torch.zeros(1, 3, 4, 4)
    green[0, 1] = img[0, 0]
    assert sharpness(green).item() == pytest.approx(0.5870**2 * 17 / 4)  # variance scales with the square


@pytest.mark.parametrize("shape", [(4, 4), (1, 2, 4, 4), (1, 1, 2, 8)])
def test_sharpness_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        sharpness(torch.zeros(shape))


def test_frechet_distance_in_one_dimension_by_hand():
    # a = {0, 2}: mean 1, unbiased var 2; b = {0, 4, 8}: mean 4, var 16.
    # (1 - 4)^2 + 2 + 16 - 2 sqrt(2 * 16) = 27 - 8 sqrt(2)
    a, b = torch.tensor([[0.0], [2.0]]), torch.tensor([[0.0], [4.0], [8.0]])
    assert frechet_distance(a, b) == pytest.approx(27 - 8 * math.sqrt(2), rel=1e-12)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-12)


def test_frechet_distance_matches_scipy_sqrtm():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(300, 5, generator=g, dtype=torch.float64) @ torch.randn(5, 5, generator=g, dtype=torch.float64)
    b = torch.randn(400, 5, generator=g, dtype=torch.float64) + 0.5
    ca, cb = np.cov(a.numpy().T), np.cov(b.numpy().T)
    ref = ((a.mean(0) - b.mean(0)) ** 2).sum().item() + np.trace(ca + cb - 2 * scipy.linalg.sqrtm(ca @ cb).real)
    assert frechet_distance(a, b) == pytest.approx(ref, rel=1e-9)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-9)


def test_frechet_distance_rejects_bad_shapes():
    with pytest.raises(ValueError, match="N >= 2"):
        frechet_distance(torch.zeros(1, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="feature sizes differ"):
        frechet_distance(torch.zeros(4, 3), torch.zeros(4, 2))


def _digits(n=256, seed=0):
    # two easily told apart "digits": a vertical and a horizontal bar, with noise
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(2, (n,), generator=g)
    x = 0.1 * torch.rand(n, 1, 28, 28, generator=g)
    x[y == 0, :, 4:24, 12:16] = 1.0
    x[y == 1, :, 12:16, 4:24] = 1.0
    return x, y


def test_digit_classifier_trains_saves_and_loads(tmp_path):
    x, y = _digits()
    path = tmp_path / "clf.pt"
    net = digit_classifier(x, y, path, epochs=2, batch_size=32, progress=False)
    assert path.exists() and not net.training
    acc = net.accuracy(x, y)
    assert acc > 0.95 and acc == (net.predict_proba(x).argmax(1) == y).float().mean().item()
    assert net.accuracy(x[:4], (net.predict_proba(x[:4]).argmax(1) + 1) % 10) == 0.0  # every label wrong
    with pytest.raises(ValueError, match="one per digit"):
        net.accuracy(x, y[:-1])
    again = digit_classifier(x, y, path, epochs=2, batch_size=32, progress=False)  # loaded, not retrained
    assert torch.equal(again.features(x[:8]), net.features(x[:8]))
    assert features_of(net.features, x, batch_size=100).shape == (len(x), DigitClassifier.feature_dim)
    with pytest.raises(ValueError, match="other digits or settings"):
        digit_classifier(x, y, path, epochs=3, batch_size=32, progress=False)
    with pytest.raises(ValueError, match=r"\[batch, 1, 28, 28\]"):
        digit_classifier(x[:, :, :20], y, tmp_path / "other.pt", progress=False)
    with pytest.raises(ValueError, match="labels in 0..9"):
        digit_classifier(x, y + 10, tmp_path / "other.pt", progress=False)


def test_a_corrupted_or_unwritable_classifier_file_is_a_checkpoint_error(tmp_path):
    x, y = _digits(n=64)
    path = tmp_path / "clf.pt"
    digit_classifier(x, y, path, epochs=1, batch_size=32, progress=False)
    record = flip_a_bit_inside_the_largest_tensor(path)
    with pytest.raises(CheckpointError, match=f"corrupted.*{record}"):
        digit_classifier(x, y, path, epochs=1, batch_size=32, progress=False)
    blocker = tmp_path / "a_file"
    blocker.write_text("nothing can be created under a regular file, even by root")
    with pytest.raises(CheckpointError, match=f"cannot write checkpoint {blocker / 'clf.pt'}"):
        digit_classifier(x, y, blocker / "clf.pt", epochs=1, batch_size=32, progress=False)


def test_sample_prior_and_interpolate_shapes_and_ends():
    torch.manual_seed(0)
    model = mnist_autoencoder(3)
    s = sample_prior(model, 5, seed=1)
    assert s.shape == (5, 1, 28, 28) and torch.equal(s, sample_prior(model, 5, seed=1))
    assert 0.0 <= s.min() and s.max() <= 1.0
    x_a, x_b = torch.rand(2, 1, 28, 28), torch.rand(2, 1, 28, 28)
    path = interpolate(model, x_a, x_b, steps=6)
    assert path.shape == (2, 6, 1, 28, 28)
    assert torch.allclose(path[:, 0], model.reconstruct(x_a), atol=1e-6)
    assert torch.allclose(path[:, -1], model.reconstruct(x_b), atol=1e-6)
    with pytest.raises(ValueError, match="steps"):
        interpolate(model, x_a, x_b, steps=1)
    with pytest.raises(ValueError, match="same shape"):
        interpolate(model, x_a, x_b[:1])
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        decode_mean(model, torch.zeros(4, 2))
