"""FID through one well-kept library: torchmetrics' ``FrechetInceptionDistance`` (torch-fidelity's Inception).

The Fréchet Inception Distance (Heusel et al., 2017) of the WAE slides (Tolstikhin et al.: FID 63 / 55 / 42
for VAE / WAE-MMD / WAE-GAN on CelebA, 2 for real images) is the Fréchet distance between Gaussians
fitted to the 2,048 pool features of the standard FID Inception v3 network. We do not re-implement
it: :func:`inception_fid` calls torchmetrics, whose default feature extractor is torch-fidelity's port
of that network, with its weights downloaded on first use (``~/.cache/torch/hub``).

Where the weights cannot be loaded (no network, as on the machine that stored the book), the result
is ``{"available": False, "reason": ...}`` with the exception that was raised: never a number.

The Fréchet distance itself, in features the book computes (chapter 6's digit classifier), is
:func:`wisetut.image_metrics.frechet_distance`; the tests check that torchmetrics' FID code gives
the same number in the same features.
"""

from __future__ import annotations

import contextlib
import io
import sys

import torch
from torch import Tensor

from wisetut.data.images import as_float_batch

__all__ = ["inception_fid", "load_inception_fid", "FID_FEATURES"]

FID_FEATURES = 2048  # the pool3 features of the standard FID Inception v3


def _check_images(name: str, x: Tensor) -> None:
    if x.dim() != 4 or x.shape[1] != 3 or len(x) < 2:
        raise ValueError(f"{name} must be RGB images [N, 3, H, W] with N >= 2, got {tuple(x.shape)}")
    if x.dtype != torch.uint8 and x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"{name}: float images must lie in [0, 1]")


def _run(metric, real: Tensor, fake: Tensor, batch_size: int, device: torch.device) -> float:
    metric = metric.to(device)
    with torch.no_grad():
        for imgs, is_real in ((real, True), (fake, False)):
            for i in range(0, len(imgs), batch_size):
                metric.update(as_float_batch(imgs[i : i + batch_size]).float().to(device), real=is_real)
        return float(metric.compute())


def load_inception_fid(device: str | torch.device = "cpu"):
    """torchmetrics' FID metric with the standard Inception weights (downloads them on first use).

    Raises whatever torchmetrics or torch-fidelity raise when the weights cannot be had.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance

    return FrechetInceptionDistance(feature=FID_FEATURES, normalize=True).to(device)


def inception_fid(real: Tensor, fake: Tensor, *, batch_size: int = 100, device: str | torch.device | None = None) -> dict:
    """FID between two image sets (``[N, 3, H, W]``, uint8 or float in [0, 1]), or why there is none.

    Returns:
        ``{"available": True, "fid", "n_real", "n_fake", "features", "library"}``, or
        ``{"available": False, "reason"}`` when torchmetrics, torch-fidelity or the Inception
        weights cannot be loaded (the exception's type and message).
    """
    _check_images("real", real)
    _check_images("fake", fake)
    device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
    printed = io.StringIO()  # torch.hub's "Downloading: ..." line: shown if the download works, dropped if not
    try:
        with contextlib.redirect_stderr(printed):
            metric = load_inception_fid(device)
    except Exception as e:  # no network, no torch-fidelity, a broken cache: recorded, never faked
        return {"available": False, "reason": f"Inception weights for FID could not be loaded ({type(e).__name__}: {e})"}
    sys.stderr.write(printed.getvalue())
    import torchmetrics

    return {
        "available": True,
        "fid": _run(metric, real, fake, batch_size, device),
        "n_real": len(real),
        "n_fake": len(fake),
        "features": f"Inception v3 pool3 ({FID_FEATURES}), torch-fidelity's FID weights",
        "library": f"torchmetrics {torchmetrics.__version__} FrechetInceptionDistance",
    }
