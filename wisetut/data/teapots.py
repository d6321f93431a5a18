"""Teapots rendered here, in the spirit of Eastwood & Williams (2018): five independent factors.

Eastwood & Williams (2018) introduced their DCI metrics on renderings of the Utah teapot whose azimuth,
elevation and RGB colour vary independently. Their files cannot be had here, so this module **renders its
own teapots**; they are not that data set, and every record says so (:data:`TEAPOTS_NAME`).

The teapot is a signed distance field (``y`` up): a body of revolution (an ellipsoid of radii (1.0, 0.75, 1.0)
with a flat base at ``y = -0.6``), a lid and knob on top, a cone spout towards ``+x`` and a torus handle on
the ``-x`` side, so every azimuth gives a different image. An orthographic camera at azimuth ``a``, elevation
``e`` (``e = 0``: from the side, ``e = pi / 2``: from above) sphere-traces each pixel's ray (Hart, 1996);
shading is ``colour * (AMBIENT + (1 - AMBIENT) max(0, n . l))`` (Lambertian, one light fixed in the camera's
frame) on black, averaged over ``supersample x supersample`` rays. Factors, independent, uniform and seeded:
azimuth in ``[0, 2 pi)``, elevation in ``[0, pi / 2]``, red, green and blue each in ``[0.2, 1]`` (a black
teapot would hide its pose). Images are uint8 ``[N, 3, size, size]``, cached by :func:`load_teapots`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

__all__ = [
    "TeapotsData",
    "render_teapots",
    "sample_factors",
    "make_teapots",
    "load_teapots",
    "teapot_sdf",
    "FACTOR_NAMES",
    "FACTOR_RANGES",
    "TEAPOTS_NAME",
    "SIZE",
    "azimuth_targets",
    "TARGET_GROUPS",
]

TEAPOTS_NAME = "teapots rendered here, in the spirit of Eastwood & Williams (2018)"
FACTOR_NAMES = ("azimuth", "elevation", "red", "green", "blue")
FACTOR_RANGES = {
    "azimuth": (0.0, 2 * math.pi),
    "elevation": (0.0, math.pi / 2),
    "red": (0.2, 1.0),
    "green": (0.2, 1.0),
    "blue": (0.2, 1.0),
}
SIZE = {"quick": 32, "standard": 32, "paper": 64}  # image side per profile (chapter 9)
AMBIENT = 0.3
LIGHT = (-0.45, 0.6, 0.66)  # in the camera's frame (x right, y up, z towards the viewer)
HALF_WIDTH = 1.6  # the image spans [-1.6, 1.6]^2 in the teapot's units
_RADIUS = 1.56  # a sphere around the teapot (the spout's tip is the farthest point, at 1.52)
_SHIFT = 0.2  # the shapes below span y in [-0.6, 1.02]: centred by moving them down by 0.2
_EPS, _STEPS, _SAFETY = 2e-3, 64, 0.9  # hit tolerance, most steps per ray, step factor


def _ellipsoid(p: Tensor, r: tuple[float, float, float]) -> Tensor:
    # Quilez's bound for an ellipsoid: k0 (k0 - 1) / k1, k0 = |p / r|, k1 = |p / r^2|
    rr = p.new_tensor(r)
    k0 = (p / rr).norm(dim=-1)
    k1 = (p / rr.square()).norm(dim=-1).clamp_min(1e-9)
    return k0 * (k0 - 1.0) / k1


def _tapered_capsule(p: Tensor, a, b, r_a: float, r_b: float) -> Tensor:
    a, b = p.new_tensor(a), p.new_tensor(b)
    ba = b - a
    h = ((p - a) @ ba / ba.dot(ba)).clamp(0.0, 1.0)
    return (p - a - h[..., None] * ba).norm(dim=-1) - (r_a + (r_b - r_a) * h)


def _smooth_min(a: Tensor, b: Tensor, k: float) -> Tensor:
    h = (k - (a - b).abs()).clamp_min(0.0) / k
    return torch.minimum(a, b) - h.square() * k * 0.25


def teapot_sdf(p: Tensor) -> Tensor:
    """The teapot's (approximate) signed distance at points ``p`` ``[..., 3]`` of its own frame."""
    p = p + p.new_tensor((0.0, _SHIFT, 0.0))
    x, y, z = p.unbind(-1)
    body = torch.maximum(_ellipsoid(p, (1.0, 0.75, 1.0)), -0.6 - y)  # flat base at y = -0.6
    lid = _ellipsoid(p - p.new_tensor((0.0, 0.7, 0.0)), (0.5, 0.15, 0.5))
    knob = (p - p.new_tensor((0.0, 0.92, 0.0))).norm(dim=-1) - 0.1
    spout = _tapered_capsule(p, (0.7, -0.15, 0.0), (1.42, 0.5, 0.0), 0.18, 0.07)
    ring = torch.stack([torch.hypot(x + 0.95, y - 0.05) - 0.42, z], -1).norm(dim=-1) - 0.08  # the handle
    d = _smooth_min(_smooth_min(body, spout, 0.08), ring, 0.05)
    return torch.minimum(torch.minimum(d, lid), knob)


def _rotations(azimuth: Tensor, elevation: Tensor) -> Tensor:
    """``[N, 3, 3]``: camera frame -> teapot frame (tilt by the elevation, then turn by the azimuth)."""
    ca, sa, ce, se = azimuth.cos(), azimuth.sin(), elevation.cos(), elevation.sin()
    one, zero = torch.ones_like(ca), torch.zeros_like(ca)
    turn = torch.stack([ca, zero, sa, zero, one, zero, -sa, zero, ca], -1).view(-1, 3, 3)  # about y
    tilt = torch.stack([one, zero, zero, zero, ce, se, zero, -se, ce], -1).view(-1, 3, 3)  # about x
    return turn @ tilt


def _trace(origins: Tensor, dirs: Tensor, t0: Tensor, t1: Tensor) -> tuple[Tensor, Tensor]:
    """Sphere-trace rays (``[R, 3]``) between ``t0`` and ``t1``: (hit ``[R]`` bool, hit point ``[R, 3]``)."""
    t = t0.clone()
    hit = torch.zeros_like(t, dtype=torch.bool)
    active = torch.arange(len(t), device=t.device)
    for _ in range(_STEPS):
        if len(active) == 0:
            break
        d = teapot_sdf(origins[active] + t[active, None] * dirs[active])
        done = d < _EPS
        hit[active[done]] = True
        t[active] += _SAFETY * d
        active = active[~done & (t[active] < t1[active])]
    return hit, origins + t[:, None] * dirs


def _normals(p: Tensor) -> Tensor:
    # the gradient of the distance field by a tetrahedron of four evaluations (Quilez)
    h = 1e-3
    k = p.new_tensor([[1, -1, -1], [-1, -1, 1], [-1, 1, -1], [1, 1, 1]])
    n = sum(kk * teapot_sdf(p + h * kk)[:, None] for kk in k)
    return n / n.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def _shade(azimuth: Tensor, elevation: Tensor, res: int) -> Tensor:
    """Lambertian shading ``[N, res, res]`` in [0, 1] (0 on the background), on the factors' device."""
    n, dev = len(azimuth), azimuth.device
    rot = _rotations(azimuth, elevation)  # [N, 3, 3]
    s = (torch.arange(res, dtype=torch.float32, device=dev) + 0.5) / res * 2 * HALF_WIDTH - HALF_WIDTH
    v, u = torch.meshgrid(-s, s, indexing="ij")  # image rows run downwards
    # orthographic rays: from z = +2 towards -z in the camera frame
    start = torch.stack([u, v, torch.full_like(u, 2.0)], -1).view(1, -1, 3)
    origins = (start @ rot.transpose(1, 2)).reshape(-1, 3)
    dirs = (torch.tensor([0.0, 0.0, -1.0], device=dev) @ rot.transpose(1, 2)).repeat_interleave(res * res, 0)
    light = torch.nn.functional.normalize(torch.tensor(LIGHT, device=dev), dim=0) @ rot.transpose(1, 2)
    light = light.repeat_interleave(res * res, 0)
    # only rays that meet the bounding sphere are traced, from where they enter it
    r2 = (u.square() + v.square()).flatten().repeat(n)
    inside = r2 < _RADIUS**2
    half = (_RADIUS**2 - r2[inside]).sqrt()
    hit = torch.zeros(n * res * res, dtype=torch.bool, device=dev)
    points = torch.zeros(n * res * res, 3, device=dev)
    hit[inside], points[inside] = _trace(origins[inside], dirs[inside], 2.0 - half, 2.0 + half)
    out = torch.zeros(n * res * res, device=dev)
    if hit.any():
        lambert = (_normals(points[hit]) * light[hit]).sum(-1).clamp_min(0.0)
        out[hit] = AMBIENT + (1 - AMBIENT) * lambert
    return out.view(n, res, res)


def render_teapots(
    factors: Tensor, size: int = 64, supersample: int = 2, chunk: int = 128, device: str | torch.device | None = None
) -> Tensor:
    """Render one teapot per row of ``factors`` ``[N, 5]`` (:data:`FACTOR_NAMES`): uint8 ``[N, 3, size, size]`` on the CPU.

    Deterministic: the same factors give the same images. ``device`` (default: the CPU) renders
    there (a GPU renders the ``paper`` profile's 200,000 teapots in a fraction of the CPU's time).
    """
    if factors.dim() != 2 or factors.shape[1] != len(FACTOR_NAMES):
        raise ValueError(f"factors must be [N, {len(FACTOR_NAMES)}] ({', '.join(FACTOR_NAMES)}), got {tuple(factors.shape)}")
    if size < 4 or supersample < 1:
        raise ValueError(f"need size >= 4 and supersample >= 1, got {size} and {supersample}")
    factors = factors.float().to(device or "cpu")
    out = torch.empty(len(factors), 3, size, size, dtype=torch.uint8)
    for s in range(0, len(factors), chunk):
        f = factors[s : s + chunk]
        shade = _shade(f[:, 0], f[:, 1], size * supersample)
        if supersample > 1:
            shade = torch.nn.functional.avg_pool2d(shade[:, None], supersample)[:, 0]
        img = f[:, 2:5, None, None] * shade[:, None]
        out[s : s + chunk] = (img * 255).round().clamp(0, 255).to(torch.uint8).cpu()
    return out


def sample_factors(n: int, seed: int = 0) -> Tensor:
    """``[n, 5]`` factors drawn independently and uniformly over :data:`FACTOR_RANGES`, from ``seed``."""
    if n < 1:
        raise ValueError(f"n must be a positive number of teapots, got {n}")
    g = torch.Generator().manual_seed(seed)
    lo, hi = (torch.tensor([FACTOR_RANGES[k][i] for k in FACTOR_NAMES]) for i in (0, 1))
    return lo + (hi - lo) * torch.rand(n, len(FACTOR_NAMES), generator=g)


@dataclass
class TeapotsData:
    """Train and held-out teapots: uint8 images ``[N, 3, size, size]`` and their factors ``[N, 5]``."""

    x_train: Tensor
    f_train: Tensor
    x_test: Tensor
    f_test: Tensor
    source: str

    def info(self) -> dict:
        """The ``data`` record of a results file."""
        return {
            "name": TEAPOTS_NAME,
            "source": self.source,
            "n_train": len(self.x_train),
            "n_test": len(self.x_test),
            "size": self.x_train.shape[-1],
            "factors": {k: list(FACTOR_RANGES[k]) for k in FACTOR_NAMES},
        }


def make_teapots(n: int, size: int = 64, seed: int = 0, supersample: int = 2, device=None) -> tuple[Tensor, Tensor]:
    """``n`` teapots from ``seed``: (uint8 images ``[n, 3, size, size]``, factors ``[n, 5]``)."""
    f = sample_factors(n, seed)
    return render_teapots(f, size, supersample, device=device), f


# DCI's targets: azimuth as (cos, sin), one factor over two columns (wisetut.disentanglement.dci's groups)
TARGET_GROUPS = ((0, 1), (2,), (3,), (4,), (5,))


def azimuth_targets(factors: Tensor) -> Tensor:
    """``[N, 6]``: ``(cos a, sin a, elevation, red, green, blue)`` from factors ``[N, 5]`` (see :data:`TARGET_GROUPS`)."""
    a = factors[:, 0]
    return torch.cat([a.cos()[:, None], a.sin()[:, None], factors[:, 1:]], 1)


def load_teapots(n_train: int, n_test: int, size: int = 64, root: str | Path = "data", seed: int = 0, device=None) -> TeapotsData:
    """Train and held-out teapots, rendered once and cached as ``<root>/teapots/*.pt``.

    The training and held-out factors come from different seeds (``2 seed`` and ``2 seed + 1``), so
    the held-out teapots are new draws. The cache is keyed by every argument; a cache that does not
    match (a different renderer version) is rendered again.
    """
    path = Path(root) / "teapots" / f"teapots-v1-{size}px-{n_train}-{n_test}-seed{seed}.pt"
    if path.exists():
        d = torch.load(path, weights_only=True)
        return TeapotsData(d["x_train"], d["f_train"], d["x_test"], d["f_test"], f"rendered here (cache {path.name})")
    x_train, f_train = make_teapots(n_train, size, 2 * seed, device=device)
    x_test, f_test = make_teapots(n_test, size, 2 * seed + 1, device=device)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"x_train": x_train, "f_train": f_train, "x_test": x_test, "f_test": f_test}, path)
    return TeapotsData(x_train, f_train, x_test, f_test, "rendered here (wisetut.data.teapots)")
