"""Figure and table helpers that several chapters share.

Each helper names the chapter that introduces it. They draw on a Matplotlib ``Axes`` the caller owns, or
return a string or an array; none saves anything (:func:`wisetut.outputs.save_figure` does).

- :data:`COLUMN_IN`: the text column's width in inches; figures no wider show at natural size (chapters 5, 9).
- :func:`markdown_table`: a Markdown table from a header and rows (chapter 4 on).
- :func:`convergence_table`: the book's convergence criterion per run, as a table (chapter 4 on).
- :func:`training_curves`: held-out curves with the convergence window shaded (chapter 4 on).
- :func:`image_grid`: images tiled with :func:`torchvision.utils.make_grid` (chapter 5 on).
- :func:`posterior_ellipses`: 2-D posteriors drawn as ellipses of ``n_sd`` standard deviations (chapter 5).
- :func:`graphical_model`: a directed graphical model with plates, as in the paper's Fig. 2 (chapter 1).
- :func:`two_posteriors`, :func:`prior_terms_curves` and :func:`explore_two_posteriors`: the paper's
  Fig. 4, two 1-D posteriors and their prior terms, drawn and explored with sliders (chapter 3).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.patches import Circle, Ellipse, FancyArrowPatch, Rectangle
from scipy import stats
from torch import Tensor
from torchvision.utils import make_grid

from wisetut.outputs import COLUMN_PX, INLINE_DPI
from wisetut.synthetic import two_posterior_terms

__all__ = [
    "COLUMN_IN",
    "markdown_table",
    "convergence_table",
    "training_curves",
    "image_grid",
    "posterior_ellipses",
    "graphical_model",
    "two_posteriors",
    "prior_terms_curves",
    "explore_two_posteriors",
]

COLUMN_IN = COLUMN_PX / INLINE_DPI  # 6.4 in: the notebook's inline image is then exactly the column's 640 px


def _cell(v, fmt: str) -> str:
    if isinstance(v, bool) or v is None:
        return {True: "yes", False: "no", None: "–"}[v]
    if isinstance(v, (int, np.integer)):
        return f"{v:,}"
    if isinstance(v, (float, np.floating)):
        return format(float(v), fmt) if math.isfinite(v) else str(float(v))
    return str(v).replace("|", "\\|")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence], fmt: str = ".3g") -> str:
    """A Markdown table: ``header`` cells, then one line per row (chapter 4 on).

    Floats are written with ``fmt``, integers with thousands separators, booleans as yes/no,
    ``None`` as a dash, strings as given (with ``|`` escaped). Every row must have one cell per
    header cell.
    """
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for i, row in enumerate(rows):
        row = list(row)
        if len(row) != len(header):
            raise ValueError(f"row {i} has {len(row)} cells, the header {len(header)}: {row!r}")
        lines.append("| " + " | ".join(_cell(v, fmt) for v in row) + " |")
    return "\n".join(lines)


def convergence_table(conv: Mapping[str, Mapping], curve: str = "held-out value") -> str:
    """One row per run of :func:`wisetut.results.convergence`'s record (chapter 4 on).

    Columns: the run, its epochs, the relative change of ``curve`` over the last window, and
    whether the book's criterion was met.
    """
    rows = [
        (name, c["epochs"], f"{100 * c['relative_change']:.2f}% over {c['window']} epochs", c["met"]) for name, c in conv.items()
    ]
    return markdown_table(["run", "epochs", f"change of the {curve}", "converged"], rows)


def training_curves(
    ax,
    curves: Mapping[str, Sequence[float]],
    *,
    ylabel: str,
    window: int | None = None,
    log: bool = False,
    colors: Mapping[str, str] | None = None,
    legend: bool = True,
) -> None:
    """Per-epoch curves, one line per run, with the convergence window shaded (chapter 4 on).

    ``window`` is the number of final epochs the criterion compares over (the ``window`` of
    :func:`wisetut.results.convergence`); it is shaded grey when given. Epochs count from 1.
    ``legend=False`` leaves the legend out (a row of panels that share one).
    """
    n = 0
    for name, values in curves.items():
        values = list(values)
        n = max(n, len(values))
        ax.plot(range(1, len(values) + 1), values, label=name, color=(colors or {}).get(name))
    if window:
        ax.axvspan(n - window, n, color="0.9", zorder=0, label=f"convergence window ({window} epochs)")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if legend:
        ax.legend(fontsize="small")


def image_grid(
    images: Tensor, nrow: int, *, shape: Sequence[int] | None = None, padding: int = 0, pad_value: float = 0.0
) -> np.ndarray:
    """Images tiled into one array for ``imshow`` (chapter 5 on), via :func:`torchvision.utils.make_grid`.

    Args:
        images: ``[N, C, H, W]``, ``[N, H, W]``, or flat ``[N, H * W * C]`` with ``shape``; values in [0, 1].
        nrow: images per row of the grid.
        shape: ``(C, H, W)`` or ``(H, W)`` for flat images.

    Returns:
        ``[rows * H, nrow * W]`` for grey images, ``[rows * H, nrow * W, 3]`` for colour ones.
    """
    x = images.detach().float().cpu()
    if shape is not None:
        x = x.reshape(len(x), *shape)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"need images as [N, 1 or 3, H, W], [N, H, W] or flat with shape=, got {tuple(images.shape)}")
    grid = make_grid(x.clamp(0, 1), nrow=nrow, padding=padding, pad_value=pad_value)
    return grid[0].numpy() if x.shape[1] == 1 else grid.permute(1, 2, 0).numpy()


def posterior_ellipses(ax, mu, sd, *, n_sd: float = 2.0, **style) -> None:
    """Draw 2-D diagonal Gaussians ``N(mu_i, diag(sd_i^2))`` as ellipses of ``n_sd`` std. deviations (chapter 5).

    ``mu`` and ``sd`` are ``[N, 2]``; ``style`` goes to :class:`matplotlib.patches.Ellipse`
    (default: unfilled, thin).
    """
    mu, sd = np.asarray(torch.as_tensor(mu).cpu()), np.asarray(torch.as_tensor(sd).cpu())
    if mu.ndim != 2 or mu.shape[1] != 2 or sd.shape != mu.shape:
        raise ValueError(f"need mu and sd as [N, 2] arrays of the same shape, got {mu.shape} and {sd.shape}")
    style = {"fill": False, "lw": 0.5, **style}
    for (x, y), (sx, sy) in zip(mu, sd):
        ax.add_patch(Ellipse((float(x), float(y)), 2 * n_sd * float(sx), 2 * n_sd * float(sy), **style))


EDGE_STYLES = {"generative": {"ls": "-", "color": "black"}, "inference": {"ls": "--", "color": "tab:red"}}


def graphical_model(
    ax,
    nodes: Mapping[str, tuple],
    edges: Sequence[tuple[str, str, str]],
    plates: Sequence[tuple[tuple[float, float, float, float], str]] = (),
    *,
    r: float = 0.32,
    rad: float = 0.0,
) -> None:
    """Draw a directed graphical model in data coordinates (chapter 1's redrawn Fig. 2).

    Args:
        nodes: ``name -> ((x, y), label, observed)``; observed nodes are shaded grey.
        edges: ``(from, to, kind)`` with ``kind`` ``"generative"`` (solid black, p(x|z)) or
            ``"inference"`` (dashed red, q(z|x)); arrows stop at the circles' edges.
        plates: ``((x0, y0, width, height), label)``, the label in the lower right corner.
        r: the nodes' radius; rad: the arrows' curvature (``arc3``; 0 is straight).

    Raises:
        ValueError: for an edge between unknown nodes or of an unknown kind.
    """
    for (x0, y0, w, h), label in plates:
        ax.add_patch(Rectangle((x0, y0), w, h, fill=False, lw=1.2, zorder=0))
        ax.text(x0 + w - 0.08, y0 + 0.08, label, ha="right", va="bottom", fontsize=11)
    for (x, y), label, observed in nodes.values():
        ax.add_patch(Circle((x, y), r, facecolor="0.82" if observed else "white", edgecolor="black", lw=1.5, zorder=2))
        ax.text(x, y, label, ha="center", va="center", fontsize=14, zorder=3)
    for a, b, kind in edges:
        if a not in nodes or b not in nodes or kind not in EDGE_STYLES:
            raise ValueError(
                f"edge ({a!r}, {b!r}, {kind!r}): expected two of the nodes {sorted(nodes)} and a kind in {sorted(EDGE_STYLES)}"
            )
        (x0, y0), (x1, y1) = nodes[a][0], nodes[b][0]
        length = math.hypot(x1 - x0, y1 - y0)
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        ax.add_patch(
            FancyArrowPatch(
                (x0 + r * ux, y0 + r * uy),
                (x1 - r * ux, y1 - r * uy),
                arrowstyle="-|>",
                mutation_scale=16,
                lw=1.4,
                connectionstyle=f"arc3,rad={rad}",
                zorder=1,
                **EDGE_STYLES[kind],
            )
        )


Z_GRID = np.linspace(-4.5, 4.5, 1801)  # where chapter 3 draws its 1-D densities


def two_posteriors(ax, means: Sequence[float], var: float, title: str) -> None:
    """Fig. 4 (a)-(c): two 1-D posteriors ``N(means[i], var)``, the prior ``N(0, 1)`` and their aggregate (chapter 3).

    A text box gives the three prior terms of :func:`wisetut.synthetic.two_posterior_terms`: AEVB's
    (Eq. 26, summed), the true KL of the aggregate (Eq. 18) and its bound (Eq. 21).
    """
    s = math.sqrt(var)
    q = [stats.norm.pdf(Z_GRID, m, s) for m in means]
    ax.plot(Z_GRID, stats.norm.pdf(Z_GRID), color="navy", lw=2, label="prior $\\mathcal{N}(0, 1)$")
    ax.fill_between(Z_GRID, 0.5 * (q[0] + q[1]), color="lightskyblue", alpha=0.5, lw=0)
    ax.plot(Z_GRID, 0.5 * (q[0] + q[1]), color="deepskyblue", lw=2, label="aggregate $q(z|\\mathcal{B}_2)$")
    for i, qi in enumerate(q):
        ax.plot(Z_GRID, qi, "--", color="tab:red", lw=1.5, label="posteriors $q(z|x^{(i)})$" if i == 0 else None)
    k = two_posterior_terms(means, var)
    ax.text(
        0.02,
        0.97,
        f"variance {var:.3g}\nAEVB (sum): {k['aevb_sum']:.3f}\nWiSE true KL: {k['true']:.3f}\nWiSE Eq. 21: {k['bound']:.3f}",
        transform=ax.transAxes,
        va="top",
        fontsize=8.5,
        family="monospace",
        bbox=dict(boxstyle="round", fc="white", ec="0.7", alpha=0.9),
    )
    ax.set_ylim(0, max(1.6 * max(qi.max() for qi in q), 0.6))  # head-room for the text box
    ax.set_xlabel("$z$")
    ax.set_ylabel("density")
    ax.set_title(title, fontsize=10)


def prior_terms_curves(
    ax,
    variances: Sequence[float],
    curves: Mapping[str, Sequence[float]],
    means: Sequence[float],
    marks: Sequence[tuple[float, str, str, str]],
    title: str,
) -> None:
    """Fig. 4 (d): the prior terms of two 1-D posteriors against their shared variance (chapter 3).

    ``curves`` maps each of :data:`wisetut.synthetic.TERMS` to its values at ``variances``; ``marks``
    are ``(variance, term, marker, name)``, each drawn on its curve (the term at ``means``) and labelled ``(name)``.
    """
    ax.semilogx(variances, curves["aevb_sum"], color="tab:orange", lw=2, label="AEVB, sum over both (Eq. 26)")
    ax.semilogx(variances, curves["aevb_mean"], color="tab:orange", lw=1, ls=":", label="AEVB, per sample")
    ax.semilogx(variances, curves["true"], color="tab:blue", lw=2, label="WiSE-ALE, true aggregate KL")
    ax.semilogx(variances, curves["bound"], color="tab:blue", lw=1.5, ls="--", label="WiSE-ALE, bound (Eq. 21)")
    for v, key, marker, name in marks:
        y = two_posterior_terms(means, v)[key]
        ax.plot(v, y, marker, color="black", ms=6)
        ax.annotate(f"({name})", (v, y), textcoords="offset points", xytext=(-6, 7), fontsize=9)
    ax.set_ylim(0, 3.0)
    ax.set_xlabel("shared posterior variance $v$")
    ax.set_ylabel("KL [nats]")
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3, which="both")
    ax.set_title(title, fontsize=10)


def explore_two_posteriors(variance: float = 0.5, mean_1: float = -1.0, mean_2: float = 1.0):
    """Chapter 3's explorer: sliders for the shared variance and the two means, redrawing :func:`two_posteriors`.

    Needs a live kernel (``ipywidgets.interact``); returns what ``interact`` returns.
    """
    import matplotlib.pyplot as plt
    from ipywidgets import FloatLogSlider, FloatSlider, interact

    def show(variance, mean_1, mean_2):
        fig, ax = plt.subplots(figsize=(6.5, 3.8))
        two_posteriors(ax, (mean_1, mean_2), variance, f"means {mean_1:+.2f}, {mean_2:+.2f}; variance {variance:.3g}")
        ax.legend(fontsize=8, loc="upper right")
        fig.tight_layout()
        plt.show()

    return interact(
        show,
        variance=FloatLogSlider(value=variance, base=10, min=-3, max=2, step=0.02, description="variance"),
        mean_1=FloatSlider(value=mean_1, min=-3.0, max=3.0, step=0.05, description="mean 1"),
        mean_2=FloatSlider(value=mean_2, min=-3.0, max=3.0, step=0.05, description="mean 2"),
    )
