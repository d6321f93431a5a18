"""The nonparametric VAE of Bodin et al. (2017): Eq. 6's weights, Eq. 5's loss, training, generation from X."""

from __future__ import annotations

import math

import pytest
import torch
from resume_helpers import Interrupt, assert_same_state, kill_at

from wisetut.engine import train
from wisetut.methods import Forward, NonparametricVAE, kernel_weights
from wisetut.models import mlp_autoencoder
from wisetut.models.mlp import mlp
from wisetut.nonparametric import XSpace, distance_to_nearest, interpolation_scores

SHAPE = (1, 4, 4)  # tiny "images": the same code paths as MNIST's (1, 28, 28), in milliseconds
g = torch.Generator().manual_seed(0)
TRAIN = torch.rand(96, *SHAPE, generator=g)
TEST = torch.rand(40, *SHAPE, generator=g)
KW = dict(epochs=3, batch_size=16, lr=1e-3, seed=3, progress=False, device="cpu")


def _fresh(latent_dim=3):
    torch.manual_seed(0)
    model = mlp_autoencoder(latent_dim, hidden=(12, 12), data_shape=SHAPE)
    return model, NonparametricVAE(data_dim=16, hidden=(12, 12))


def _eq6_literally(x, sigma, length):
    """Eq. 6 as the paper writes it: sigma^2 exp(-d^2 / 2 l^2), subtract the diagonal, divide by row sums."""
    n = len(x)
    k = torch.empty(n, n, dtype=torch.float64)
    for i in range(n):
        for j in range(n):
            k[i, j] = sigma**2 * math.exp(-float((x[i] - x[j]).square().sum()) / (2 * length**2))
    k = k - torch.diag(torch.diag(k))
    return k / k.sum(1, keepdim=True)


def test_kernel_weights_are_convex_with_zero_diagonal():
    x = torch.randn(50, 2, generator=g, dtype=torch.float64)
    w = kernel_weights(x, log_sigma=0.3, log_lengthscale=-0.5)
    assert w.shape == (50, 50)
    assert (w >= 0).all()
    assert torch.allclose(w.sum(1), torch.ones(50, dtype=torch.float64), atol=1e-12)
    assert torch.count_nonzero(torch.diag(w)) == 0
    assert torch.allclose(w, _eq6_literally(x, math.exp(0.3), math.exp(-0.5)), atol=1e-12)
    # the scale sigma^2 cancels in the row normalisation
    assert torch.allclose(w, kernel_weights(x, log_sigma=-4.0, log_lengthscale=-0.5), atol=1e-12)


def test_kernel_weights_never_divide_zero_by_zero():
    x = torch.tensor([[0.0, 0.0], [100.0, 0.0], [0.0, 300.0]])
    w = kernel_weights(x, 0.0, math.log(0.01))  # every off-diagonal exp underflows
    assert torch.isfinite(w).all() and torch.allclose(w.sum(1), torch.ones(3))
    assert w[0, 1] == 1.0 and w[1, 0] == 1.0 and w[2, 0] == 1.0  # each row's nearest other point


def test_kernel_weights_over_references():
    q, ref = torch.randn(7, 2, generator=g), torch.randn(30, 2, generator=g)
    w = kernel_weights(q, 0.0, 0.0, reference=ref)
    assert w.shape == (7, 30) and (w >= 0).all() and torch.allclose(w.sum(1), torch.ones(7))
    # a query at a reference point with a tiny length scale takes that point's weight
    assert kernel_weights(ref[4:5], 0.0, math.log(1e-3), reference=ref)[0, 4] == pytest.approx(1.0)


def test_loss_is_eq5_by_hand():
    """Three 2-pixel 'digits', a locator that reads the pixels as x, codes chosen by hand."""
    method = NonparametricVAE(data_dim=2, x_dim=2, hidden=(), match_weight=1.0)
    with torch.no_grad():
        lin = method.locator[1][0]
        lin.weight.copy_(torch.eye(2))
        lin.bias.zero_()
        method.log_lengthscale.fill_(math.log(0.5))
    y = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.5]])
    mu = torch.tensor([[1.0, -1.0], [0.5, 2.0], [-1.0, 0.0]])
    logvar = torch.tensor([[0.0, -1.0], [0.5, 0.0], [-0.5, 0.2]])
    recon = torch.tensor([3.0, 1.5, 2.25])
    f = Forward(y, mu, logvar, mu, torch.zeros(3, 2), recon)
    loss = method.losses(f)
    assert set(loss) == {"model", "locator"} and loss["model"] is loss["locator"]

    total = 0.0
    for i in range(3):
        k = [math.exp(-sum((y[i, d] - y[j, d]).item() ** 2 for d in range(2)) / (2 * 0.5**2)) if j != i else 0.0
             for j in range(3)]  # fmt: skip
        w = [v / sum(k) for v in k]
        z_tilde = [sum(w[j] * mu[j, d].item() for j in range(3)) for d in range(2)]
        match = sum((mu[i, d].item() - z_tilde[d]) ** 2 for d in range(2))
        kl = 0.5 * sum(mu[i, d].item() ** 2 + math.exp(logvar[i, d].item()) - 1 - logvar[i, d].item() for d in range(2))
        total += recon[i].item() + kl + match
    assert loss["model"].item() == pytest.approx(total / 3, rel=1e-6)
    half = NonparametricVAE(data_dim=2, x_dim=2, hidden=(), match_weight=0.0)
    half.load_state_dict(method.state_dict())
    assert half.losses(f)["model"].item() < loss["model"].item()


def test_trains_both_groups_and_resumes_bit_for_bit(tmp_path):
    model, method = _fresh()
    before = [p.detach().clone() for p in method.locator.parameters()]
    modes = []
    method.eval()  # the engine must put the method (its locator's dropout) back into training mode
    straight = train(model, method, TRAIN, TEST, on_step=lambda e, s: modes.append(method.training), **KW)
    assert all(modes) and len(modes) == 3 * (96 // 16)
    assert all(not torch.equal(a, b) for a, b in zip(before, method.locator.parameters()))
    assert "match" in straight.history.test and len(straight.history.test["match"]) == 3
    assert all(math.isfinite(v) for v in straight.history.test["match"])
    assert straight.method.hparams()["dropout"] == pytest.approx(0.1)

    ckpt = tmp_path / "np.pt"
    with pytest.raises(Interrupt):
        train(*_fresh(), TRAIN, TEST, checkpoint=ckpt, on_step=kill_at(1, 2), **KW)
    resumed_model, resumed_method = _fresh()
    resumed = train(resumed_model, resumed_method, TRAIN, TEST, checkpoint=ckpt, **KW)
    assert resumed.resumed_from_epoch == 1
    assert_same_state(straight.model, resumed.model)
    assert_same_state(straight.method, resumed.method)
    assert straight.history.train == resumed.history.train and straight.history.test == resumed.history.test
    state = torch.load(ckpt, weights_only=True)
    assert set(state["optimizers"]) == {"model", "locator"} and "log_lengthscale" in state["method"]


def test_generation_and_interpolation_from_x():
    model, method = _fresh()
    train(model, method, TRAIN, TEST, **{**KW, "epochs": 1})
    assert method.training and model.training
    space = XSpace.build(model, method, TRAIN)
    assert method.training and model.training  # evaluation mode only while locating and encoding
    assert torch.equal(space.x_ref, method.locate(TRAIN))  # no dropout when locating
    assert space.x_ref.shape == (96, 2) and space.z_ref.shape == (96, 3)
    z = space.codes(space.x_ref[:5])
    lo, hi = space.z_ref.min(0).values, space.z_ref.max(0).values
    assert ((z >= lo - 1e-5) & (z <= hi + 1e-5)).all()  # convex combinations of reference codes
    paths = space.interpolate(TRAIN[:2], TRAIN[2:4], steps=7)
    assert paths.shape == (2, 7, *SHAPE) and (paths >= 0).all() and (paths <= 1).all()
    assert torch.allclose(paths[:, 0], space.decode(space.x_ref[:2]), atol=1e-6)  # ends: the digits' own locations
    assert torch.allclose(paths[:, -1], space.decode(space.x_ref[2:4]), atol=1e-6)


def test_distance_to_nearest_is_brute_force():
    imgs, real = torch.rand(9, *SHAPE, generator=g), torch.rand(20, *SHAPE, generator=g)
    brute = torch.stack([(real - im).flatten(1).norm(dim=1).min() for im in imgs])
    assert torch.allclose(distance_to_nearest(imgs, real, batch_size=4), brute, atol=1e-5)
    assert distance_to_nearest(real[:3], real).abs().max() < 1e-3


def test_interpolation_scores_read_only_the_interior_points():
    class Fixed:  # top-class probability = the image's mean pixel, so the expected mean is known
        def predict_proba(self, x):
            p = x.flatten(1).mean(1, keepdim=True)
            return torch.cat([p, torch.zeros_like(p)], 1)

    real = torch.rand(20, *SHAPE, generator=g)
    paths = torch.rand(3, 6, *SHAPE, generator=g)
    paths[:, 0], paths[:, -1] = 1.0, real[0]  # the ends: far off and exact, and both ignored
    inner = paths[:, 1:-1].reshape(-1, *SHAPE)
    conf, dist = interpolation_scores(paths, Fixed(), real)
    assert conf == pytest.approx(inner.flatten(1).mean(1).mean().item(), rel=1e-6)
    assert dist == pytest.approx(distance_to_nearest(inner, real).mean().item(), rel=1e-6)
    with pytest.raises(ValueError, match="steps >= 3"):
        interpolation_scores(paths[:, :2], Fixed(), real)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match=r"\[N, x_dim\]"):
        kernel_weights(torch.zeros(5), 0.0, 0.0)
    with pytest.raises(ValueError, match="at least 2"):
        kernel_weights(torch.zeros(1, 2), 0.0, 0.0)
    with pytest.raises(ValueError, match="reference"):
        kernel_weights(torch.zeros(3, 2), 0.0, 0.0, reference=torch.zeros(4, 3))
    with pytest.raises(ValueError, match="finite"):
        kernel_weights(torch.zeros(3, 2), 0.0, float("nan"))
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="finite"):
            kernel_weights(torch.zeros(3, 2), bad, 0.0)  # a NaN log_sigma would make every weight NaN
    with pytest.raises(ValueError, match="match_weight"):
        NonparametricVAE(match_weight=-1.0)
    with pytest.raises(ValueError, match="positive"):
        NonparametricVAE(x_dim=0)
    with pytest.raises(ValueError, match="dropout"):
        mlp(4, 2, dropout=1.0)
    with pytest.raises(ValueError, match="784 values"):
        NonparametricVAE().locate(torch.zeros(3, 1, 4, 4))
    model, method = _fresh()
    space = XSpace.build(model, method, TRAIN[:10])
    with pytest.raises(ValueError, match="at least 2"):
        space.interpolate(TRAIN[:1], TRAIN[1:2], steps=1)
    with pytest.raises(ValueError, match="same shape"):
        space.interpolate(TRAIN[:1], TRAIN[1:3])
    with pytest.raises(ValueError, match=r"\[N, x_dim\]"):
        space.codes(torch.zeros(2))
    with pytest.raises(ValueError, match="one shape"):
        distance_to_nearest(torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 5, 5))
    with pytest.raises(ValueError, match="latent_dim"):
        mlp_autoencoder(0)


def test_a_seed_draws_the_locator_as_well_as_the_model(monkeypatch, tmp_path):
    """train_methods' seeds each start the X encoder from their own draw, and the same seed from the same one."""
    from wisetut import experiments
    from wisetut.profiles import Settings

    seen = []
    monkeypatch.setattr(
        experiments,
        "train",
        lambda model, method, *a, **k: seen.append(
            (
                k["seed"],
                [p.detach().clone() for p in method.locator.parameters()],
                [p.detach().clone() for p in model.parameters()],
            )
        ),
    )
    settings = Settings(n_train=96, n_test=40, epochs=1, batch_size=16, latent_dim=3, lr=1e-3)
    method = NonparametricVAE(data_dim=16, hidden=(12, 12))
    with torch.no_grad():
        method.log_sigma.fill_(0.7)
    for seed in (0, 1, 0):
        experiments._train_seeded(
            lambda d: mlp_autoencoder(d, hidden=(12, 12), data_shape=SHAPE),
            method,
            TRAIN,
            TEST,
            settings,
            seed,
            tmp_path / "run.pt",
        )
    (_, loc0, mod0), (_, loc1, _), (_, loc0_again, mod0_again) = seen
    assert not all(torch.equal(a, b) for a, b in zip(loc0, loc1))
    assert all(torch.equal(a, b) for a, b in zip(loc0, loc0_again)) and all(torch.equal(a, b) for a, b in zip(mod0, mod0_again))
    assert method.log_sigma.item() == 0.0  # the kernel starts at sigma = l = 1
