"""wisetut: WiSE-ALE (Lin et al., 2019) rebuilt in PyTorch, with the models it is compared to.

The book in ``book/`` teaches the paper chapter by chapter and only *calls* this package.

- the math: :mod:`~wisetut.objectives` (Appendix B, Eq. 21, Eq. 26), :mod:`~wisetut.quadrature`
  (the same integrals by scipy), :mod:`~wisetut.synthetic` (posteriors with exact prior terms),
  :mod:`~wisetut.estimators` (Monte Carlo KLs, the mutual information);
- the objectives: :mod:`~wisetut.methods` (one file per method: AEVB and beta-VAE, WiSE-ALE, the WAEs,
  the nonparametric VAE, the Eq. 15-17 variants), :mod:`~wisetut.reconstruction` (the Eq. 15-17 terms),
  :mod:`~wisetut.nonparametric` (generation in Bodin et al.'s space X);
- training: :mod:`~wisetut.engine` (the one loop), :mod:`~wisetut.schedule`,
  :mod:`~wisetut.checkpoints` (files, fingerprints, resuming), :mod:`~wisetut.checks`,
  :mod:`~wisetut.malloc` (a CPU memory setting), :mod:`~wisetut.cache` (a run's measures kept beside
  its checkpoint), :mod:`~wisetut.distributed` (``torchrun``);
- what to train: :mod:`~wisetut.profiles` (``WISETUT_PROFILE``), :mod:`~wisetut.runs`,
  :mod:`~wisetut.experiments`, :mod:`~wisetut.results` (histories and results records),
  :mod:`~wisetut.outputs`, :mod:`~wisetut.cli` (``python -m wisetut``);
- what was learned: :mod:`~wisetut.analysis` (a method's objective at a trained model), :mod:`~wisetut.claims`,
  :mod:`~wisetut.calibration`, :mod:`~wisetut.latent`, :mod:`~wisetut.generate`,
  :mod:`~wisetut.image_metrics` (sharpness, Fréchet distances, FID), :mod:`~wisetut.disentanglement`,
  :mod:`~wisetut.traversals`, :mod:`~wisetut.plots`;
- :mod:`wisetut.models` (Appendix D's networks and others) and :mod:`wisetut.data` (the data sets).
"""

from wisetut.estimators import mc_aggregate_kl
from wisetut.objectives import aevb_kl, log_gaussian_overlap, wise_kl
from wisetut.outputs import run_record, save_figure, save_results
from wisetut.profiles import current_profile, settings_for

__all__ = [
    "aevb_kl",
    "log_gaussian_overlap",
    "wise_kl",
    "mc_aggregate_kl",
    "current_profile",
    "settings_for",
    "run_record",
    "save_figure",
    "save_results",
]
__version__ = "0.1.0"
