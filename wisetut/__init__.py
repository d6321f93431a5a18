"""wisetut: WiSE-ALE (Lin et al., 2019) and the models it is compared to, in PyTorch; ``book/`` only calls it.

- the math: :mod:`~wisetut.objectives` (Appendix B, Eq. 21, Eq. 26), :mod:`~wisetut.quadrature` (by scipy),
  :mod:`~wisetut.synthetic` (exact prior terms), :mod:`~wisetut.estimators` (Monte Carlo KLs, the MI);
- the objectives: :mod:`~wisetut.methods` (one file per method, the Eq. 15-17 variants included),
  :mod:`~wisetut.reconstruction` (Eq. 15-17), :mod:`~wisetut.nonparametric` (Bodin et al.'s space X);
- training: :mod:`~wisetut.engine`, :mod:`~wisetut.schedule`, :mod:`~wisetut.checkpoints`,
  :mod:`~wisetut.checks`, :mod:`~wisetut.malloc`, :mod:`~wisetut.cache`, :mod:`~wisetut.distributed`;
- what to run: :mod:`~wisetut.profiles` (``WISETUT_PROFILE``), :mod:`~wisetut.runs`, :mod:`~wisetut.declared`,
  :mod:`~wisetut.experiments`, :mod:`~wisetut.results`, :mod:`~wisetut.outputs`, :mod:`~wisetut.cli`;
- what was learned: :mod:`~wisetut.analysis`, :mod:`~wisetut.claims`, :mod:`~wisetut.calibration`,
  :mod:`~wisetut.latent`, :mod:`~wisetut.generate`, :mod:`~wisetut.image_metrics` (sharpness, FID),
  :mod:`~wisetut.disentanglement`, :mod:`~wisetut.traversals`, :mod:`~wisetut.plots`;
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
