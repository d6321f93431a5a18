"""Chapter 7's pieces: the D.3 networks, the stand-in faces, the learning-rate schedule, uint8 data, FID."""

from __future__ import annotations

import pickle

import pytest
import torch
from resume_helpers import Interrupt, assert_same_state, kill_at
from torch import nn

from wisetut.data.faces import STAND_IN_NAME, load_faces, photo_crops
from wisetut.data.images import as_float_batch
from wisetut.engine import CheckpointError, train
from wisetut.image_metrics import _run, frechet_distance, inception_fid
from wisetut.methods import WAEGAN, WiSE
from wisetut.models.wae_celeba import WIDTH, wae_celeba_autoencoder
from wisetut.profiles import settings_for
from wisetut.schedule import StepLR, schedule_key

# --- the networks of Appendix D.3 ---------------------------------------------------------------


def test_paper_networks_are_appendix_d3():
    model = wae_celeba_autoencoder(64, WIDTH["paper"])
    convs = [m for m in model.encoder if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [128, 256, 512, 1024]
    assert all(c.kernel_size == (5, 5) and c.stride == (2, 2) for c in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.encoder) == 4
    assert model.encoder[-1].out_features == 2 * 64  # mu and log sigma^2
    fc = model.decoder[0]
    assert (fc.in_features, fc.out_features) == (64, 8 * 8 * 1024)
    deconvs = [m for m in model.decoder if isinstance(m, nn.ConvTranspose2d)]
    assert [d.out_channels for d in deconvs] == [512, 256, 128, 3]
    assert [d.stride for d in deconvs] == [(2, 2)] * 3 + [(1, 1)]
    assert all(d.kernel_size == (5, 5) for d in deconvs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.decoder) == 3
    assert model.likelihood == "gaussian"


@pytest.mark.parametrize("width", [1 / 128, WIDTH["quick"], WIDTH["standard"]])
def test_shapes_and_range(width):
    torch.manual_seed(0)
    model = wae_celeba_autoencoder(64, width)
    x = torch.rand(5, 3, 64, 64)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (5, 64)
    out = model.decode(mu)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    convs = [m for m in model.encoder if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [round(w * width) for w in (128, 256, 512, 1024)]


def test_bad_width_is_an_error():
    with pytest.raises(ValueError, match="multiple of 8"):
        wae_celeba_autoencoder(64, 0.001)


# --- the stand-in -----------------------------------------------------------------------------


def _two_colour_photo(h=300, w=400):
    # left three quarters: noise in the red channel only; right quarter: noise in the green channel only
    g = torch.Generator().manual_seed(0)
    img = torch.zeros(3, h, w, dtype=torch.uint8)
    cut = w - w // 4
    img[0, :, :cut] = torch.randint(0, 256, (h, cut), generator=g, dtype=torch.uint8)
    img[1, :, cut:] = torch.randint(0, 256, (h, w - cut), generator=g, dtype=torch.uint8)
    return {"two": img}


def test_held_out_crops_come_from_unseen_pixels():
    photos = _two_colour_photo()
    train_x, test_x = photo_crops(40, "train", photos=photos), photo_crops(40, "test", photos=photos)
    assert train_x.shape == test_x.shape == (40, 3, 64, 64) and train_x.dtype == torch.uint8
    assert train_x[:, 1].max() == 0 and train_x[:, 0].float().mean() > 50  # never a right-quarter pixel
    assert test_x[:, 0].max() == 0 and test_x[:, 1].float().mean() > 50  # never a left pixel


def test_stand_in_crops_are_real_deterministic_and_varied():
    a, b = photo_crops(24, "train", seed=3), photo_crops(24, "train", seed=3)
    assert torch.equal(a, b)
    assert not torch.equal(a, photo_crops(24, "train", seed=4))
    assert not torch.equal(a, photo_crops(24, "test", seed=3))
    assert (a.float().flatten(1).std(1) >= 4).all()  # no flat crops
    assert len({bytes(x.numpy()) for x in a}) == 24


def test_load_faces_falls_back_to_the_named_stand_in(tmp_path):
    data = load_faces(16, 8, root=tmp_path / "no_celeba_here")
    assert not data.is_celeba and data.name == STAND_IN_NAME and "CelebA" not in data.name.replace("for CelebA", "")
    info = data.info()
    assert info["n_train"] == 16 and info["n_test"] == 8
    assert info["source"].startswith("stand-in") and "CelebA unavailable" in info["source"]


def test_load_faces_uses_celeba_when_on_disk(tmp_path):
    from test_celeba import _write

    _write(tmp_path / "img_align_celeba" / "img_align_celeba", tmp_path / "list_eval_partition.csv", csv_format=True)
    data = load_faces(None, None, root=tmp_path, progress=False)
    assert data.is_celeba and data.name == "CelebA" and data.source.startswith("CelebA")
    assert data.x_train.shape == (3, 3, 64, 64) and data.x_test.shape == (2, 3, 64, 64)


# --- the learning-rate schedule -------------------------------------------------------------------


def test_step_lr_is_the_d3_schedule():
    lr = settings_for("faces", "paper").lr
    assert isinstance(lr, float) and float(lr) == 3e-4
    assert [lr.at(e) for e in (0, 29, 30, 49)] == [3e-4, 3e-4, 1.5e-4, 1.5e-4]
    assert pickle.loads(pickle.dumps(lr)).milestones == (30,) and "milestones=(30,)" in repr(lr)
    assert schedule_key(1e-3) is None and schedule_key(StepLR(1e-3)) is None
    for bad in [dict(milestones=(0,)), dict(milestones=(3, 2)), dict(gamma=0.0)]:
        with pytest.raises(ValueError):
            StepLR(1e-3, **bad)


IMG_TRAIN = photo_crops(48, "train", seed=0)
IMG_TEST = photo_crops(16, "test", seed=0)
KW = dict(epochs=3, batch_size=16, seed=2, progress=False, device="cpu")
SCHED = StepLR(1e-3, milestones=(1, 2), gamma=0.5)


def _fresh(method=None):
    torch.manual_seed(0)
    return wae_celeba_autoencoder(8, 1 / 128), method if method is not None else WiSE()


def test_schedule_sets_every_groups_rate_each_epoch(tmp_path):
    ckpt = tmp_path / "run.pt"
    train(*_fresh(WAEGAN(lam=1.0, hidden=16, layers=2, lr_adv=2e-3)), IMG_TRAIN, IMG_TEST, lr=SCHED, checkpoint=ckpt, **KW)
    opts = torch.load(ckpt, weights_only=True)["optimizers"]
    assert opts["model"]["param_groups"][0]["lr"] == pytest.approx(1e-3 * 0.25)
    assert opts["adversary"]["param_groups"][0]["lr"] == pytest.approx(2e-3 * 0.25)
    constant = train(*_fresh(), IMG_TRAIN, IMG_TEST, lr=1e-3, **KW)
    scheduled = train(*_fresh(), IMG_TRAIN, IMG_TEST, lr=SCHED, **KW)
    assert constant.history.train["loss"][0] == scheduled.history.train["loss"][0]  # epoch 0 at the same rate
    assert constant.history.train["loss"][1] != scheduled.history.train["loss"][1]


@pytest.mark.parametrize("kill_epoch,kill_step", [(1, 1), (2, 0)])
def test_schedule_resumes_bit_for_bit_after_a_kill(tmp_path, kill_epoch, kill_step):
    straight = train(*_fresh(), IMG_TRAIN, IMG_TEST, lr=SCHED, **KW)
    ckpt = tmp_path / "run.pt"
    with pytest.raises(Interrupt):
        train(*_fresh(), IMG_TRAIN, IMG_TEST, lr=SCHED, checkpoint=ckpt, on_step=kill_at(kill_epoch, kill_step), **KW)
    resumed = train(*_fresh(), IMG_TRAIN, IMG_TEST, lr=SCHED, checkpoint=ckpt, **KW)
    assert resumed.resumed_from_epoch == kill_epoch
    assert_same_state(straight.model, resumed.model)
    assert straight.history.train == resumed.history.train and straight.history.test == resumed.history.test


def test_schedule_is_part_of_the_fingerprint(tmp_path):
    ckpt = tmp_path / "run.pt"
    train(*_fresh(), IMG_TRAIN, IMG_TEST, lr=SCHED, checkpoint=ckpt, **{**KW, "epochs": 1})
    saved = torch.load(ckpt, weights_only=True)["fingerprint"]
    assert saved["lr_schedule"] == "milestones=[1, 2], gamma=0.5"
    for other in (1e-3, StepLR(1e-3, milestones=(2,), gamma=0.5)):
        with pytest.raises(CheckpointError, match="lr_schedule"):
            train(*_fresh(), IMG_TRAIN, IMG_TEST, lr=other, checkpoint=ckpt, **KW)
    plain = tmp_path / "plain.pt"
    train(*_fresh(), IMG_TRAIN, IMG_TEST, lr=1e-3, checkpoint=plain, **{**KW, "epochs": 1})
    assert "lr_schedule" not in torch.load(plain, weights_only=True)["fingerprint"]  # old checkpoints stay valid


# --- uint8 images ---------------------------------------------------------------------------------


def test_uint8_data_trains_exactly_as_its_float_copy():
    as_float = IMG_TRAIN.float() / 255
    assert torch.equal(as_float_batch(IMG_TRAIN), as_float)
    a = train(*_fresh(), IMG_TRAIN, IMG_TEST, lr=SCHED, **KW)
    b = train(*_fresh(), as_float, IMG_TEST.float() / 255, lr=SCHED, **KW)
    assert_same_state(a.model, b.model)
    assert a.history.train == b.history.train and a.history.test == b.history.test


# --- FID ------------------------------------------------------------------------------------------


class TinyFeatures(nn.Module):
    """A stand-in feature network: [N, 3, 64, 64] in [0, 1] -> [N, 6], each channel's mean and spread."""

    def forward(self, x):
        x = x.float().flatten(2)
        return torch.cat([x.mean(2), x.std(2)], 1)


def _torchmetrics_frechet(net, real, fake):
    """torchmetrics' FID code (the path inception_fid runs) with a stand-in feature network: not FID."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=net, normalize=True, input_img_size=tuple(real.shape[1:]))
    return _run(metric, real, fake, batch_size=100, device=torch.device("cpu"))


def test_fid_code_path_with_a_stand_in_feature_network():
    net = TinyFeatures().eval()
    real, fake = IMG_TRAIN.float() / 255, IMG_TEST.float() / 255 * 0.5  # darker held-out crops
    assert abs(_torchmetrics_frechet(net, real, real)) < 1e-3
    far = _torchmetrics_frechet(net, real, fake)
    with torch.no_grad():
        ours = frechet_distance(net(real), net(fake))
    assert far > 0.01 and far == pytest.approx(ours, rel=1e-3, abs=1e-4)  # torchmetrics agrees with image_metrics
    assert _torchmetrics_frechet(net, IMG_TRAIN, fake) == pytest.approx(far, rel=1e-5)  # uint8 in


def test_inception_fid_is_unavailable_with_a_reason_when_weights_cannot_load(monkeypatch, capsys):
    import sys

    import wisetut.image_metrics as fid

    def no_weights(device):
        sys.stderr.write('Downloading: "https://example.invalid/weights.pth" to /root/.cache/weights.pth\n')
        raise OSError("no network")

    monkeypatch.setattr(fid, "load_inception_fid", no_weights)
    out = inception_fid(IMG_TRAIN, IMG_TEST)
    assert out == {"available": False, "reason": "Inception weights for FID could not be loaded (OSError: no network)"}
    assert capsys.readouterr().err == ""  # the failed download's line is not left in a chapter's output


def test_inception_fid_reports_a_number_when_the_metric_loads(monkeypatch):
    from torchmetrics.image.fid import FrechetInceptionDistance

    import wisetut.image_metrics as fid

    monkeypatch.setattr(
        fid,
        "load_inception_fid",
        lambda device: FrechetInceptionDistance(feature=TinyFeatures().eval(), normalize=True, input_img_size=(3, 64, 64)),
    )
    out = inception_fid(IMG_TRAIN, IMG_TEST)
    assert out["available"] and out["fid"] > 0 and out["n_real"] == 48 and out["n_fake"] == 16


def test_fid_rejects_bad_images():
    with pytest.raises(ValueError, match="RGB"):
        inception_fid(torch.rand(4, 1, 64, 64), torch.rand(4, 3, 64, 64))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        inception_fid(torch.rand(4, 3, 64, 64) * 2, torch.rand(4, 3, 64, 64))
