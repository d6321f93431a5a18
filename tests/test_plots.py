"""The shared figure and table helpers: tables, grids, ellipses and curves draw what they say."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Circle, FancyArrowPatch, Rectangle  # noqa: E402

from wisetut.plots import (  # noqa: E402
    convergence_table,
    explore_two_posteriors,
    graphical_model,
    image_grid,
    markdown_table,
    posterior_ellipses,
    prior_terms_curves,
    training_curves,
    two_posteriors,
)
from wisetut.results import convergence  # noqa: E402
from wisetut.synthetic import TERMS, two_posterior_terms  # noqa: E402


def test_markdown_table_formats_cells():
    t = markdown_table(["run", "n", "mse", "ok", "none"], [["a|b", 60000, 5.2345, True, None]])
    assert t.splitlines() == ["| run | n | mse | ok | none |", "|---|---|---|---|---|", "| a\\|b | 60,000 | 5.23 | yes | – |"]
    with pytest.raises(ValueError, match="row 0 has 1 cells, the header 2"):
        markdown_table(["a", "b"], [[1]])


def test_convergence_table_rows():
    conv = {"wise": convergence([10, 5, 4, 3.99, 3.98])}
    t = convergence_table(conv, "held-out value")
    assert "| wise | 5 | 0.25% over 1 epochs | yes |" in t


def test_image_grid_places_each_image():
    imgs = torch.stack([torch.full((4, 5), i / 10) for i in range(6)])  # [6, 4, 5] grey
    g = image_grid(imgs, nrow=3)
    assert g.shape == (8, 15)
    assert g[0, 0] == pytest.approx(0.0) and g[0, 5] == pytest.approx(0.1) and g[4, 0] == pytest.approx(0.3)
    flat = image_grid(imgs.reshape(6, -1), nrow=3, shape=(4, 5))
    assert np.array_equal(flat, g)
    rgb = torch.rand(4, 3, 6, 6)
    c = image_grid(rgb, nrow=2)
    assert c.shape == (12, 12, 3) and np.allclose(c[6:, 6:], rgb[3].permute(1, 2, 0).numpy())
    with pytest.raises(ValueError, match="need images"):
        image_grid(torch.rand(2, 2, 4, 4), nrow=2)


def test_posterior_ellipses_and_curves():
    fig, ax = plt.subplots()
    posterior_ellipses(ax, torch.zeros(3, 2), torch.tensor([[1.0, 2.0]] * 3), n_sd=2)
    assert len(ax.patches) == 3 and ax.patches[0].width == 4 and ax.patches[0].height == 8
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        posterior_ellipses(ax, torch.zeros(3, 3), torch.ones(3, 3))
    fig2, ax2 = plt.subplots()
    training_curves(ax2, {"a": [3, 2, 1], "b": [4, 3, 2]}, ylabel="error", window=1)
    assert len(ax2.lines) == 2 and ax2.get_xlabel() == "epoch"
    assert ax2.lines[0].get_xdata().tolist() == [1, 2, 3]
    assert ax2.get_legend() is not None and len(ax2.patches) == 1  # the shaded convergence window
    fig3, ax3 = plt.subplots()
    training_curves(ax3, {"a": [3, 2, 1]}, ylabel="", legend=False)
    assert ax3.get_legend() is None and not ax3.patches
    plt.close("all")


def test_graphical_model_draws_nodes_edges_and_plates():
    fig, ax = plt.subplots()
    nodes = {"z": ((1.0, 2.0), "z", False), "x": ((1.0, 0.0), "x", True)}
    graphical_model(ax, nodes, [("z", "x", "generative"), ("x", "z", "inference")], [((0.0, -0.5, 2.0, 1.0), "N")], r=0.5)
    circles = [p for p in ax.patches if isinstance(p, Circle)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(circles) == 2 and len(arrows) == 2 and sum(isinstance(p, Rectangle) for p in ax.patches) == 1
    assert circles[1].get_facecolor() != circles[0].get_facecolor()  # the observed node is shaded
    assert arrows[0].get_linestyle() == "-" and arrows[1].get_linestyle() == "--"  # inference dashed
    assert {t.get_text() for t in ax.texts} == {"z", "x", "N"}
    with pytest.raises(ValueError, match="expected two of the nodes"):
        graphical_model(ax, nodes, [("z", "y", "generative")])
    with pytest.raises(ValueError, match="a kind"):
        graphical_model(ax, nodes, [("z", "x", "causal")])
    plt.close(fig)


def test_two_posteriors_and_their_prior_terms():
    fig, ax = plt.subplots()
    two_posteriors(ax, (-1.0, 1.0), 0.5, "title")
    assert len(ax.lines) == 4 and ax.get_title() == "title"  # prior, aggregate, two posteriors
    t = two_posterior_terms((-1.0, 1.0), 0.5)
    assert f"WiSE true KL: {t['true']:.3f}" in ax.texts[0].get_text() and f"Eq. 21: {t['bound']:.3f}" in ax.texts[0].get_text()
    fig2, ax2 = plt.subplots()
    v = [0.1, 1.0, 10.0]
    curves = {k: [two_posterior_terms((-1.0, 1.0), x)[k] for x in v] for k in TERMS}
    prior_terms_curves(ax2, v, curves, (-1.0, 1.0), [(1.0, "aevb_sum", "o", "a")], "(d)")
    assert len(ax2.lines) == 5 and ax2.lines[4].get_ydata()[0] == pytest.approx(curves["aevb_sum"][1])  # the mark on its curve
    assert [t.get_text() for t in ax2.texts] == ["(a)"] and ax2.get_title() == "(d)"
    widget = explore_two_posteriors(variance=0.2).widget  # ipywidgets.interact's
    assert [c.description for c in widget.children[:3]] == ["variance", "mean 1", "mean 2"] and widget.children[0].value == 0.2
    plt.close("all")
