"""How big a run is: the one place that reads ``WISETUT_PROFILE``.

Three profiles (see the book's introduction):

- ``quick``: seconds per chapter, for tests and CI; tiny data, one or two epochs. The book's
  ``conftest.py`` selects it under pytest unless the variable is already set.
- ``standard``: minutes per chapter on a laptop CPU; the default without a GPU.
- ``paper``: the paper's own settings (Appendix D); the default on a GPU.

Every experiment's settings live in :data:`SETTINGS`, so a reader can see at a glance what each
profile changes. A number made under ``quick`` or ``standard`` is never the paper's setting.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch

from wisetut.schedule import StepLR

__all__ = ["PROFILES", "ENV_VAR", "Settings", "SETTINGS", "current_profile", "settings_for"]

PROFILES = ("quick", "standard", "paper")
ENV_VAR = "WISETUT_PROFILE"


@dataclass(frozen=True)
class Settings:
    """Data size and optimisation settings of one experiment under one profile.

    ``profile`` is the profile the settings belong to: :func:`settings_for` fills it in, so a
    results record (:func:`wisetut.results.results_record`) reads it from the settings it was
    made with, not from the environment. ``knobs`` holds an experiment's own settings beyond
    training (chapters 6 and 8: the digit classifier's epochs, chapter 8's interpolation pairs), so that
    a chapter reads them from here instead of branching on the profile; results records store them.
    """

    n_train: int
    n_test: int
    epochs: int
    batch_size: int
    latent_dim: int
    lr: float
    profile: str = field(default="", repr=False)  # out of the repr: the chapters print it apart
    knobs: Mapping[str, Any] = field(default_factory=dict, hash=False, repr=False)  # printed where used

    def as_dict(self) -> dict:
        return asdict(self)


# Appendix D: sine (D.1) batch 64, 50 epochs, Adam 5e-4, latent 4, 200,000 waves (Section 5);
# MNIST (D.2) batch 64, 30 epochs, Adam 1e-3, latent 2, 60,000 + 10,000 digits.
_SINE_QUICK = Settings(n_train=1_024, n_test=256, epochs=2, batch_size=64, latent_dim=4, lr=5e-4)
_SINE_STANDARD = Settings(
    n_train=20_000, n_test=5_000, epochs=50, batch_size=64, latent_dim=4, lr=StepLR(5e-4, milestones=(30, 40), gamma=0.2)
)
_SINE_PAPER = Settings(n_train=190_000, n_test=10_000, epochs=50, batch_size=64, latent_dim=4, lr=5e-4)
# Chapters 10 and 11's longer sine runs: 100 epochs, x0.2 at epochs 60 and 75, so that the convergence
# window (the last 20 epochs) lies wholly at the final rate
_SINE_CONTROLS = replace(_SINE_STANDARD, epochs=100, lr=StepLR(5e-4, milestones=(60, 75), gamma=0.2))
_SQUARES_LR = StepLR(2e-4, milestones=(60, 75), gamma=0.1)  # chapter 6's fading squares (see "squares" below)
_MNIST_2D = {
    "quick": Settings(n_train=1_000, n_test=500, epochs=2, batch_size=64, latent_dim=2, lr=1e-3),
    "standard": Settings(n_train=4_000, n_test=1_000, epochs=30, batch_size=64, latent_dim=2, lr=1e-3),
    "paper": Settings(n_train=60_000, n_test=10_000, epochs=30, batch_size=64, latent_dim=2, lr=1e-3),
}
SETTINGS: dict[str, dict[str, Settings]] = {
    "sine": {
        "quick": _SINE_QUICK,
        # standard: 20,000 waves for the paper's 50 epochs. At D.1's constant 5e-4 the held-out error
        # still jumps by 10-30% from epoch to epoch after 50 epochs (chapter 4), so standard anneals the
        # rate over the last 20 epochs (x0.2 at epochs 30 and 40) to let every run settle.
        "standard": _SINE_STANDARD,
        "paper": _SINE_PAPER,
    },
    # Chapter 4's annealed runs beside the paper's constant rate ("ours"): the standard schedule at each
    # profile's size (standard already anneals, so the chapter trains these only where the rate is constant).
    "sine_annealed": {
        p: replace(s, lr=_SINE_STANDARD.lr)
        for p, s in (("quick", _SINE_QUICK), ("standard", _SINE_STANDARD), ("paper", _SINE_PAPER))
    },
    "mnist": _MNIST_2D,
    # The WAE paper's MNIST setting (official code, config_mnist; chapter 6): latent 8, batch 100,
    # 100 epochs, Adam 1e-3; 60,000 + 10,000 digits. standard: all of MNIST as well, for 10 epochs
    # (6,000 steps), on chapter 5's networks.
    # knobs: the digit classifier whose features give chapter 6's Fréchet distances trains 8 epochs
    # (1 in quick) on the training digits.
    "wae": {
        "quick": Settings(
            n_train=1_000, n_test=500, epochs=2, batch_size=100, latent_dim=8, lr=1e-3, knobs={"classifier_epochs": 1}
        ),
        "standard": Settings(
            n_train=60_000, n_test=10_000, epochs=10, batch_size=100, latent_dim=8, lr=1e-3, knobs={"classifier_epochs": 8}
        ),
        "paper": Settings(
            n_train=60_000, n_test=10_000, epochs=100, batch_size=100, latent_dim=8, lr=1e-3, knobs={"classifier_epochs": 8}
        ),
    },
    # The paper's future work (chapter 11): Eq. 15, 16, 17 and the true KL, three seeds each; sine waves:
    # half of chapter 10's sine waves (the M^2 terms cost more per step) on chapter 10's schedule (100 epochs,
    # x0.2 at 60 and 75: at a constant 5e-4 for 40 epochs the runs still moved by 8-20%), in paper as well
    # (as chapter 10's controls: at 190,000 waves, 12 runs would take most of a day of a 2-core CPU);
    # MNIST as chapter 5 (all of it, at Appendix D.2, in paper).
    "future_sine": {
        "quick": _SINE_QUICK,
        **dict.fromkeys(("standard", "paper"), replace(_SINE_CONTROLS, n_train=10_000, n_test=2_000)),
    },
    "future_mnist": _MNIST_2D,
    # The controls of chapter 10 on MNIST 2-D: chapter 5's data and settings (Appendix D.2 in paper, where
    # chapter 5's runs converge in 30 epochs), trained twice as long in standard so that every run converges.
    "controls_mnist": {**_MNIST_2D, "standard": replace(_MNIST_2D["standard"], epochs=60)},
    # The controls of chapter 10 on sine waves (ours: the paper has no such control): chapter 4's standard
    # data, trained twice as long (_SINE_CONTROLS) so that the runs can settle. paper uses the same settings:
    # at 190,000 waves, 12 runs would take about 8 hours of a 2-core CPU.
    "controls_sine": {
        "quick": _SINE_QUICK,
        "standard": _SINE_CONTROLS,
        "paper": _SINE_CONTROLS,
    },
    # The fading squares of the WAE slides (Rubenstein et al., 2018; chapter 6): latent 2 for an
    # intrinsic dimension of 1. The slides give no training settings: ours, generated data. At lr 1e-3
    # the held-out error oscillated by 10x between epochs (the MMD's tug on the codes); at a constant
    # 2e-4 it still moved by 18-81% over the last 20 epochs, so the rate drops x0.1 at epochs 60 and 75
    # (the convergence window, the last 20 epochs, lies wholly at the final rate).
    "squares": {
        "quick": Settings(n_train=1_000, n_test=500, epochs=2, batch_size=100, latent_dim=2, lr=1e-3),
        "standard": Settings(n_train=10_000, n_test=2_000, epochs=100, batch_size=100, latent_dim=2, lr=_SQUARES_LR),
        "paper": Settings(n_train=60_000, n_test=10_000, epochs=100, batch_size=100, latent_dim=2, lr=_SQUARES_LR),
    },
    # Faces (chapter 7): Appendix D.3, batch 256, 50 epochs, Adam 3e-4 then 1.5e-4 after 30 epochs,
    # latent 64, CelebA's official train (162,770) and test (19,962) splits. standard and quick run on
    # the scikit-image stand-in with narrower networks (wisetut.models.wae_celeba.WIDTH): standard
    # trains D.3's 50 epochs, halved after 30, at batch 64 and Adam 1e-3 (D.3: 256 and 3e-4), so that
    # 12 runs (4 methods x 3 seeds) fit about 40 minutes of a 2-core CPU. At 20 epochs none of the four
    # methods had converged (chapter 7 shows how far these are).
    "faces": {
        "quick": Settings(n_train=256, n_test=128, epochs=2, batch_size=64, latent_dim=64, lr=StepLR(1e-3, (1,), 0.5)),
        "standard": Settings(n_train=4_000, n_test=500, epochs=50, batch_size=64, latent_dim=64, lr=StepLR(1e-3, (30,), 0.5)),
        "paper": Settings(n_train=162_770, n_test=19_962, epochs=50, batch_size=256, latent_dim=64, lr=StepLR(3e-4, (30,), 0.5)),
    },
    # Bodin et al. (2017), the nonparametric VAE (chapter 8): batch 128, Adam 1e-3, Z of 500 for its Fig. 2
    # (chapter 8 also trains Z of 2, 10, 50; quick stops at 10); 55,000 + 10,000 digits. It gives no epoch
    # count: paper trains 20 epochs (ours: 8,580 steps, 2.7x standard's 3,100, where 27 runs, nine
    # runs of three seeds, fit about an hour of a 2-core CPU; the chapter shows whether they converge).
    # knobs: the digit classifier that scores generated digits and interpolants trains 8 epochs (1 in
    # quick); the interpolation measures run over 200 pairs of training digits of two classes (20).
    "npvae": {
        "quick": Settings(
            n_train=256,
            n_test=256,
            epochs=2,
            batch_size=128,
            latent_dim=10,
            lr=1e-3,
            knobs={"classifier_epochs": 1, "interpolation_pairs": 20},
        ),
        "standard": Settings(
            n_train=4_000,
            n_test=1_000,
            epochs=100,
            batch_size=128,
            latent_dim=500,
            lr=1e-3,
            knobs={"classifier_epochs": 8, "interpolation_pairs": 200},
        ),
        "paper": Settings(
            n_train=55_000,
            n_test=10_000,
            epochs=20,
            batch_size=128,
            latent_dim=500,
            lr=1e-3,
            knobs={"classifier_epochs": 8, "interpolation_pairs": 200},
        ),
    },
    # Teapots (chapter 9), rendered here (wisetut.data.teapots): the paper gives no teapot settings, so
    # these are ours. Latent 10 and batch 64 as the disentanglement literature (Locatello et al., 2019);
    # paper: Eastwood & Williams's 200,000 images at 64x64 (90% / 10%), Adam 1e-4, 50 epochs, for a GPU;
    # standard: 32x32 images (wisetut.data.teapots.SIZE), 10,000 + 1,000 of them and 30 epochs; the
    # rate drops x0.3 at epochs 18 and 24 to let the runs settle before the convergence window.
    "teapots": {
        "quick": Settings(n_train=256, n_test=128, epochs=2, batch_size=64, latent_dim=10, lr=1e-3),
        "standard": Settings(
            n_train=10_000, n_test=1_000, epochs=30, batch_size=64, latent_dim=10, lr=StepLR(1e-3, milestones=(18, 24), gamma=0.3)
        ),
        "paper": Settings(n_train=180_000, n_test=20_000, epochs=50, batch_size=64, latent_dim=10, lr=1e-4),
    },
}


def current_profile() -> str:
    """The active profile: ``$WISETUT_PROFILE`` if set, else ``paper`` on a GPU, else ``standard``.

    Raises:
        ValueError: if ``$WISETUT_PROFILE`` names no profile.
    """
    name = os.environ.get(ENV_VAR, "").strip().lower()
    if not name:
        return "paper" if torch.cuda.is_available() else "standard"
    if name not in PROFILES:
        raise ValueError(f"{ENV_VAR}={name!r} is not a profile: expected one of {', '.join(PROFILES)}")
    return name


def settings_for(experiment: str, profile: str | None = None) -> Settings:
    """The :class:`Settings` of ``experiment`` (``"sine"``, ``"mnist"``) under ``profile``.

    ``profile`` defaults to :func:`current_profile`.
    """
    if experiment not in SETTINGS:
        raise ValueError(f"unknown experiment {experiment!r}: expected one of {', '.join(SETTINGS)}")
    profile = current_profile() if profile is None else profile
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: expected one of {', '.join(PROFILES)}")
    return replace(SETTINGS[experiment][profile], profile=profile)
