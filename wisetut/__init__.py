"""wisetut: WiSE-ALE (Lin et al., 2019) rebuilt in PyTorch, with the models it is compared to.

The book in ``book/`` teaches the paper chapter by chapter and only *calls* this package.

- :mod:`wisetut.objectives`: the math core (Appendix B, Eq. 21, Eq. 26).
- :mod:`wisetut.estimators`: Monte Carlo estimates of the true aggregate KL and the mutual information.
- :mod:`wisetut.methods`: AEVB, beta-VAE, WiSE-ALE (Eq. 27), WAE-MMD, WAE-GAN as objectives.
- :mod:`wisetut.nonparametric`: the nonparametric VAE of Bodin et al. (2017).
- :mod:`wisetut.reconstruction`: the reconstruction terms of Eq. 15, 16 and 17 for a mini-batch.
- :mod:`wisetut.engine`: the one training loop (uint8 images, :mod:`wisetut.schedule`'s step
  learning rate of Appendix D.3); :mod:`wisetut.experiments`: train-or-load, results;
  :mod:`wisetut.checkpoints`: atomic, verified files and what identifies a run.
- :mod:`wisetut.latent`, :mod:`wisetut.generate`, :mod:`wisetut.image_metrics`: measuring what was learned;
  :mod:`wisetut.fid`: FID through torchmetrics, or why it is unavailable.
- :mod:`wisetut.runs`: what each training chapter trains, defined once; :mod:`wisetut.cli`:
  ``python -m wisetut list`` and ``train`` (the same runs from the command line).
- :mod:`wisetut.distributed`: the engine under ``torchrun``, the batch-coupled terms over the global batch.
- :mod:`wisetut.profiles`: how big a run is (``WISETUT_PROFILE``).
- :mod:`wisetut.outputs`: where results and figures go, and what made them.
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
