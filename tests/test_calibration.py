"""The trend rule for convergence and the ELBO of calibrated Gaussian decoders (issue 36's measures)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wisetut.calibration import elbo_over_variances, gaussian_elbo, ml_variance
from wisetut.claims import settled, trend


def test_the_elbo_of_a_gaussian_decoder_written_out():
    # two samples of D = 2 dimensions: squared errors 0.5 and 1.5, KLs 1 and 3
    e, kl, d = [0.5, 1.5], [1.0, 3.0], 2
    # at variance 1/2 (the squared-error loss): -log(pi) - e - kl, averaged
    assert gaussian_elbo(e, kl, d, 0.5) == pytest.approx(-math.log(math.pi) - 1.0 - 2.0, rel=1e-14)
    # the calibrated variance is the mean squared error per dimension: (0.5 + 1.5) / 2 / 2 = 0.5
    assert ml_variance(e, d) == 0.5
    # at variance 0.0025 (the sine waves' noise): -log(2 pi 0.0025) - e / 0.005 - kl
    assert gaussian_elbo(e, kl, d, 0.0025) == pytest.approx(-math.log(2 * math.pi * 0.0025) - 200.0 - 2.0, rel=1e-14)
    # the calibrated variance maximises the ELBO
    sweep = np.geomspace(1e-3, 1.0, 301)
    best = sweep[int(np.argmax(elbo_over_variances(e, kl, d, sweep)))]
    assert best == pytest.approx(ml_variance(e, d), rel=0.03)
    with pytest.raises(ValueError, match="positive finite variance"):
        gaussian_elbo(e, kl, d, 0.0)
    with pytest.raises(ValueError, match="one finite KL per sample"):
        gaussian_elbo(e, kl[:1], d, 0.5)


def test_a_flat_noisy_curve_is_settled_and_a_falling_one_is_not():
    rng = np.random.default_rng(0)
    epochs = 50
    flat = 10.0 + 0.1 * rng.standard_normal(epochs)  # jumps of a percent or two from epoch to epoch, no trend
    falling = 20.0 - 0.2 * np.arange(epochs) + 0.05 * rng.standard_normal(epochs)
    t_flat, t_fall = trend(flat), trend(falling)
    assert t_flat["window"] == 10 and abs(t_flat["slope"]) < 0.05 and t_flat["change"] < 0.6
    assert t_fall["slope"] == pytest.approx(-0.2, abs=0.02) and t_fall["change"] > 1.9  # 10 more epochs at -0.2
    effect = (2.0, 4.0)  # an interval of a difference between two arms, clear of zero
    assert settled(effect, [t_flat["change"], t_flat["change"]])
    assert not settled(effect, [t_fall["change"], 0.0])
    # a falling curve whose projected change is far smaller than the effect: settled
    slow = 20.0 - 0.001 * np.arange(epochs) + 0.001 * rng.standard_normal(epochs)
    assert settled(effect, [trend(slow)["change"]] * 2)


def test_settled_for_failing_unresolved_and_margins():
    assert settled((-4.0, -2.0), [0.5, 0.5]) and not settled((-4.0, -2.0), [1.5, 1.0])
    assert settled((-1.0, 1.0), [0.2, 0.3]) and not settled((-1.0, 1.0), [0.6, 0.6])  # unresolved, and stays so
    assert settled((0.5, 1.0), [0.1], margin=0.3) and not settled((0.5, 1.0), [0.3], margin=0.3)
    short = trend([1.0, 2.0])  # two epochs (quick): no line to fit, so nothing on it is settled
    assert short["change"] == float("inf") and not settled((0.5, 1.0), [short["change"], 0.0])
    with pytest.raises(ValueError, match="finite values"):
        trend([1.0, float("nan"), 2.0])
