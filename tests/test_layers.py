"""The fast layers of wisetut.models.layers compute their torch.nn parent's function, with its parameters."""

import pytest
import torch
from torch import nn

from wisetut.checkpoints import module_structure
from wisetut.models import layers, sine_autoencoder
from wisetut.models.layers import as_torch_layers

FAST = (layers.PointwiseConv1d, layers.SpaceToDepthConv1d, layers.SubPixelConvTranspose1d)


def assert_same_function(fast: nn.Module, x: torch.Tensor, atol: float = 1e-5) -> None:
    """Equal outputs, input gradients and parameter gradients (relative to their size) to float rounding."""
    ref = as_torch_layers(fast)
    assert all(type(m) not in FAST for m in ref.modules())
    results = []
    for m in (fast, ref):
        xi = x.clone().requires_grad_()
        y = m(xi) if not hasattr(m, "encode") else m.decode(m.encode(xi)[0])
        g = torch.randn(y.shape, generator=torch.Generator().manual_seed(1))  # not randn_like: strides may differ
        grads = torch.autograd.grad(y, [xi, *m.parameters()], g)
        results.append((y, grads))
    (y_fast, g_fast), (y_ref, g_ref) = results
    assert y_fast.shape == y_ref.shape
    scale = y_ref.abs().max().item()
    assert (y_fast - y_ref).abs().max().item() <= atol * max(scale, 1.0)
    for a, b in zip(g_fast, g_ref):
        assert a.shape == b.shape
        assert (a - b).abs().max().item() <= atol * max(b.abs().max().item(), 1e-12)


@pytest.mark.parametrize(
    "layer, shape",
    [
        (lambda: layers.PointwiseConv1d(16, 1), (5, 16, 37)),
        (lambda: layers.PointwiseConv1d(16, 128), (5, 16, 1)),
        (lambda: layers.PointwiseConv1d(3, 4, bias=False), (2, 3, 9)),
        (lambda: layers.SpaceToDepthConv1d(1, 16, 16, padding=7), (4, 1, 256)),
        (lambda: layers.SpaceToDepthConv1d(3, 5, 4, padding=2), (4, 3, 11)),  # odd length
        (lambda: layers.SpaceToDepthConv1d(3, 5, 6, padding=0, bias=False), (4, 3, 20)),
        (lambda: layers.SubPixelConvTranspose1d(128, 64, 8, stride=4, padding=2), (5, 128, 1)),
        (lambda: layers.SubPixelConvTranspose1d(16, 16, 16, stride=4, padding=6), (5, 16, 64)),
        (lambda: layers.SubPixelConvTranspose1d(3, 2, 6, stride=3, padding=1), (4, 3, 7)),
        (lambda: layers.SubPixelConvTranspose1d(3, 2, 4, stride=2, bias=False), (4, 3, 5)),
    ],
)
def test_fast_layer_is_its_torch_parent(layer, shape):
    torch.manual_seed(0)
    fast = layer()
    torch.manual_seed(0)
    ref = as_torch_layers(nn.Sequential(layer()))[0]
    # same initialisation from the same seed: the parent's __init__ draws the parameters
    assert type(ref) is type(fast).__mro__[1] is fast.same_function_as
    assert fast.state_dict().keys() == ref.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(fast.state_dict().values(), ref.state_dict().values()))
    assert_same_function(fast, torch.randn(shape, generator=torch.Generator().manual_seed(2)))


@pytest.mark.parametrize("factory, shape", [(sine_autoencoder, (64, 1, 256))])
def test_networks_equal_their_torch_layer_versions(factory, shape):
    torch.manual_seed(0)
    model = factory()
    assert_same_function(model, torch.randn(shape, generator=torch.Generator().manual_seed(3)))
    # a state dict of the plain torch.nn network loads unchanged
    plain = as_torch_layers(model)
    fresh = factory()
    fresh.load_state_dict(plain.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), model.state_dict().values()))


def test_fast_layers_refuse_what_they_cannot_compute():
    with pytest.raises(ValueError, match="even kernel width"):
        layers.SpaceToDepthConv1d(2, 2, 5, padding=2)
    with pytest.raises(ValueError, match="stride 2"):
        layers.SpaceToDepthConv1d(2, 2, 4, stride=3)
    with pytest.raises(ValueError, match="multiple of the stride"):
        layers.SubPixelConvTranspose1d(2, 2, 6, stride=4)


def test_a_fast_network_fingerprints_as_its_torch_layer_version():
    model = sine_autoencoder()
    assert any(isinstance(m, FAST) for m in model.modules())
    assert module_structure(model, "model") == module_structure(as_torch_layers(model), "model")
