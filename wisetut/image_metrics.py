"""Image-quality numbers of the WAE slides (Tolstikhin et al., 2018): sharpness and Fréchet distances.

- :func:`sharpness`: the slides' "blurriness" measure, the variance of the image filtered with the
  3x3 Laplace kernel ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]`` (as the official WAE code computes it:
  greyscale, ``VALID`` convolution, population variance over pixels). Sharp edges give large
  values; a blurry image gives a small one.
- :func:`frechet_distance`: ``||m_a - m_b||^2 + Tr(C_a + C_b - 2 (C_a C_b)^{1/2})`` between Gaussians
  fitted to two sets of feature vectors. With Inception pool features this is FID; with any other
  network's features it is *a Fréchet distance in that network's features* and must be called so.
- :func:`features_of`: a network's features of an image set, in batches.
- :func:`inception_fid`: FID itself (Heusel et al., 2017; the slides' FID 63 / 55 / 42 for VAE / WAE-MMD /
  WAE-GAN on CelebA) through torchmetrics' ``FrechetInceptionDistance`` (torch-fidelity's Inception v3, its
  weights downloaded on first use); where they cannot be loaded, the result is
  ``{"available": False, "reason": ...}``, never a number.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from wisetut.data.images import as_float_batch

__all__ = [
    "LAPLACE_KERNEL",
    "sharpness",
    "frechet_distance",
    "features_of",
    "inception_fid",
    "load_inception_fid",
    "FID_FEATURES",
]

LAPLACE_KERNEL = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
# ITU-R 601 luma weights, as tf.image.rgb_to_grayscale uses in the official WAE code
_RGB_TO_GREY = torch.tensor([0.2989, 0.5870, 0.1140])


def sharpness(images: Tensor) -> Tensor:
    """Per-image variance of the Laplace-filtered image: ``[N]`` for images ``[N, C, H, W]``.

    ``C`` is 1 (grey) or 3 (RGB, converted to grey first); ``H, W >= 3``. Pixel values as given
    (the book uses [0, 1]). Computed in float64.

    Raises:
        ValueError: for any other shape.
    """
    if images.dim() != 4 or images.shape[1] not in (1, 3) or min(images.shape[2:]) < 3:
        raise ValueError(f"expected images [N, C, H, W] with C in (1, 3) and H, W >= 3, got {tuple(images.shape)}")
    x = images.detach().double()
    if x.shape[1] == 3:
        x = (x * _RGB_TO_GREY.to(x).view(1, 3, 1, 1)).sum(1, keepdim=True)
    lap = F.conv2d(x, LAPLACE_KERNEL.to(x).view(1, 1, 3, 3))  # VALID: no padding
    return lap.flatten(1).var(1, unbiased=False)


def _check_features(name: str, f: Tensor) -> None:
    if f.dim() != 2 or f.shape[0] < 2:
        raise ValueError(f"{name} must be [N, features] with N >= 2, got {tuple(f.shape)}")


def frechet_distance(feats_a: Tensor, feats_b: Tensor) -> float:
    """Fréchet distance between Gaussians fitted (mean, unbiased covariance) to two feature sets.

    ``Tr((C_a C_b)^{1/2})`` is computed as the sum of square roots of the eigenvalues of the
    symmetric matrix ``C_a^{1/2} C_b C_a^{1/2}`` (same eigenvalues), in float64: stable where a
    general matrix square root is not.

    Raises:
        ValueError: if either set is not ``[N, F]`` with ``N >= 2``, or their ``F`` differ.
    """
    _check_features("feats_a", feats_a)
    _check_features("feats_b", feats_b)
    if feats_a.shape[1] != feats_b.shape[1]:
        raise ValueError(f"feature sizes differ: {feats_a.shape[1]} and {feats_b.shape[1]}")
    a, b = feats_a.detach().double().cpu(), feats_b.detach().double().cpu()
    m_a, m_b = a.mean(0), b.mean(0)
    c_a, c_b = torch.cov(a.T).reshape(a.shape[1], -1), torch.cov(b.T).reshape(b.shape[1], -1)
    w, v = torch.linalg.eigh(c_a)
    sqrt_a = (v * w.clamp_min(0).sqrt()) @ v.T
    mid = sqrt_a @ c_b @ sqrt_a
    tr_sqrt = torch.linalg.eigvalsh(0.5 * (mid + mid.T)).clamp_min(0).sqrt().sum()
    return float((m_a - m_b).square().sum() + c_a.trace() + c_b.trace() - 2.0 * tr_sqrt)


@torch.no_grad()
def features_of(feature_fn: Callable[[Tensor], Tensor], images: Tensor, batch_size: int = 500) -> Tensor:
    """``feature_fn`` applied to ``images`` in batches, concatenated on the CPU."""
    return torch.cat([feature_fn(images[i : i + batch_size]).cpu() for i in range(0, len(images), batch_size)])


# --- FID with the standard Inception network (torchmetrics) ----------------------------------------------------

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
