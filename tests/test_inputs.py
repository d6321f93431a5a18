"""Inputs in range or refused before the first step, each error naming the argument and what was expected."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from wisetut.data import make_sine_waves
from wisetut.engine import train
from wisetut.estimators import log_aggregate_density
from wisetut.latent import compactness
from wisetut.methods import AEVB, imq_mmd
from wisetut.models import mnist_autoencoder, sine_autoencoder
from wisetut.objectives import aevb_kl, log_gaussian_overlap, wise_kl, wise_kl_naive
from wisetut.reconstruction import pairwise_log_likelihood

SINE = make_sine_waves(64).x


def test_a_bernoulli_decoder_refuses_images_in_0_255_before_the_first_step():
    digits = torch.rand(64, 1, 28, 28) * 255.0
    steps = []
    with pytest.raises(
        ValueError,
        match=r"train_x must lie in \[0, 1\] for a Bernoulli decoder, found values in \[.*, 25\d.*\] "
        r"\(images in 0..255\? divide them by 255",
    ):
        train(
            mnist_autoencoder(),
            AEVB(),
            digits,
            digits[:32] / 255.0,
            epochs=1,
            batch_size=32,
            lr=1e-3,
            progress=False,
            device="cpu",
            on_step=lambda e, s: steps.append(s),
        )
    assert steps == []
    with pytest.raises(ValueError, match=r"test_x must lie in \[0, 1\]"):
        train(
            mnist_autoencoder(),
            AEVB(),
            digits / 255.0,
            digits[:32] - 300.0,
            epochs=1,
            batch_size=32,
            lr=1e-3,
            progress=False,
            device="cpu",
        )
    # uint8 images, and floats in [0, 1], train
    run = train(
        mnist_autoencoder(),
        AEVB(),
        (digits / 255.0 * 255).to(torch.uint8),
        digits[:32] / 255.0,
        epochs=1,
        batch_size=32,
        lr=1e-3,
        progress=False,
        device="cpu",
    )
    assert run.test["elbo"] < 0


@pytest.mark.parametrize(
    "name, value, error, message",
    [
        ("epochs", 2.0, TypeError, "epochs must be an int, got float 2.0"),
        ("batch_size", 32.0, TypeError, "batch_size must be an int, got float 32.0"),
        ("batch_size", True, TypeError, "batch_size must be an int, got bool True"),
        ("epochs", 0, ValueError, "epochs must be at least 1, got 0"),
        ("lr", float("nan"), ValueError, "lr must be a positive finite number"),
        ("lr", "1e-3", ValueError, "lr must be a positive finite number"),
    ],
)
def test_training_settings_are_named(name, value, error, message):
    kw = dict(epochs=1, batch_size=32, lr=1e-3) | {name: value}
    with pytest.raises(error, match=message):
        train(sine_autoencoder(), AEVB(), SINE, SINE, progress=False, device="cpu", **kw)


@pytest.mark.parametrize("logvar_value", [-104.0, -120.0, -300.0])
def test_wise_kl_is_finite_and_right_in_float32_below_the_underflow(logvar_value):
    torch.manual_seed(0)
    mu = torch.randn(64, 4)
    logvar = torch.randn(64, 4)
    logvar[::2] = logvar_value  # half the posteriors far narrower than float32's exp can hold
    values, grads = {}, {}
    for dtype in (torch.float32, torch.float64):
        m, lv = mu.to(dtype).clone().requires_grad_(), logvar.to(dtype).clone().requires_grad_()
        v = wise_kl(m, lv)
        v.backward()
        values[dtype], grads[dtype] = v, (m.grad, lv.grad)
    assert torch.isfinite(values[torch.float32]) and all(torch.isfinite(g).all() for g in grads[torch.float32])
    assert values[torch.float32].dtype == torch.float32
    torch.testing.assert_close(values[torch.float32].double(), values[torch.float64], rtol=1e-6, atol=1e-5)
    for g32, g64 in zip(grads[torch.float32], grads[torch.float64]):
        torch.testing.assert_close(g32.double(), g64, rtol=1e-5, atol=1e-7)
    # today's float32 kernel, with variances that underflow, gives NaN where this is finite
    assert torch.isnan(wise_kl_naive(mu, logvar))


def test_wise_kl_in_log_space_matches_the_kernel_where_both_work():
    torch.manual_seed(1)
    mu, logvar = torch.randn(64, 4, dtype=torch.float64), torch.randn(64, 4, dtype=torch.float64) - 60.0
    ordinary = wise_kl(mu, logvar)  # float64: the tiled kernel
    from wisetut.objectives import _log_overlap_log_space, log_gaussian_overlap

    torch.testing.assert_close(_log_overlap_log_space(mu, logvar, mu, logvar), log_gaussian_overlap(mu, logvar, mu, logvar))
    assert torch.isfinite(ordinary)
    low = torch.full((8, 2), -120.0)
    same = log_gaussian_overlap(torch.zeros(8, 2), low, torch.zeros(3, 2), low[:3])  # log N(0; 0, 2 e^-120) per dim
    torch.testing.assert_close(same, torch.full((8, 3), -(math.log(2 * math.pi) + math.log(2.0) - 120.0)))


@pytest.mark.parametrize("fn", [aevb_kl, wise_kl])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_objectives_refuse_non_finite_inputs_by_name(fn, bad):
    mu, logvar = torch.zeros(8, 2), torch.zeros(8, 2)
    mu[3, 1] = bad
    with pytest.raises(ValueError, match=r"^mu must be finite, got 1 NaN or infinite values"):
        fn(mu, logvar)
    with pytest.raises(ValueError, match=r"^logvar must be finite"):
        fn(torch.zeros(8, 2), mu)
    with pytest.raises(ValueError, match=r"^logvar_b must be finite"):
        log_gaussian_overlap(torch.zeros(8, 2), torch.zeros(8, 2), torch.zeros(3, 2), mu[1:4])


def test_objectives_name_mismatched_devices():
    cpu, meta = torch.zeros(8, 2), torch.zeros(8, 2, device="meta")
    with pytest.raises(ValueError, match="mu and logvar must be on one device, got cpu and meta"):
        wise_kl(cpu, meta)
    with pytest.raises(ValueError, match="mu_a and mu_b must be on one device, got cpu and meta"):
        log_gaussian_overlap(cpu, cpu, meta, meta)
    with pytest.raises(ValueError, match="z_prior must be on z's device cpu, got meta"):
        imq_mmd(cpu, meta)
    with pytest.raises(ValueError, match="z must be on mu's device cpu, got meta"):
        log_aggregate_density(meta, cpu, cpu)
    with pytest.raises(ValueError, match="x and out must be on one device, got cpu and meta"):
        pairwise_log_likelihood(cpu, meta, "gaussian")


def test_imq_mmd_names_what_it_was_given():
    z = torch.randn(16, 2)
    with pytest.raises(
        ValueError, match=r"^z must be a torch.Tensor of shape \[N, d\], got ndarray \(convert it with torch.from_numpy\)"
    ):
        imq_mmd(np.zeros((16, 2), dtype=np.float32), z)
    with pytest.raises(
        ValueError, match=r"^z_prior must be a floating-point tensor, got dtype torch.int64 \(convert it with .float\(\)\)"
    ):
        imq_mmd(z, torch.zeros(16, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"^z_prior must be finite"):
        imq_mmd(z, torch.full((16, 2), float("nan")))
    with pytest.raises(ValueError, match=r"^block must be at least 1, got 0"):
        imq_mmd(z, z, block=0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: log_aggregate_density(torch.zeros(4, 2), torch.zeros(8, 2), torch.zeros(8, 2), chunk=0),
        lambda: pairwise_log_likelihood(torch.zeros(4, 3), torch.zeros(4, 3), "gaussian", chunk=0),
        lambda: compactness(torch.randn(32, 2), torch.zeros(32, 2), chunk=0),
    ],
)
def test_a_chunk_of_zero_is_named(call):
    with pytest.raises(ValueError, match=r"^chunk must be at least 1, got 0"):
        call()
