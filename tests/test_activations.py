"""Each activation's hand-written derivative against autograd, its NumPy curves against
PyTorch, and its stated properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from actlab.engine.activation_ops import torch_ops
from actlab.engine.activations import ACTIVATIONS

REQUIRED = {
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "gelu",
    "silu",
    "softplus",
    "softsign",
}


def test_registry_has_the_required_functions() -> None:
    assert REQUIRED <= set(ACTIVATIONS)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_derivative_matches_autograd(name: str) -> None:
    act = ACTIVATIONS[name]
    ops = torch_ops(act)
    # avoid z == 0 exactly, where ReLU-family derivatives are a convention
    z = torch.linspace(-12, 12, 2001, dtype=torch.float64)
    z = z[z.abs() > 1e-9].requires_grad_(True)
    a = ops.fn(z)
    (auto,) = torch.autograd.grad(a.sum(), z)
    mine = ops.derivative(z.detach(), a.detach())
    torch.testing.assert_close(mine, auto, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_max_derivative_is_the_supremum(name: str) -> None:
    act = ACTIVATIONS[name]
    ops = torch_ops(act)
    z = torch.linspace(-30, 30, 600_001, dtype=torch.float64)
    d = ops.derivative(z, ops.fn(z))
    assert d.max().item() <= act.max_derivative * (1 + 1e-3)
    assert d.max().item() >= act.max_derivative * (1 - 1e-3)


def test_seed_facts() -> None:
    assert ACTIVATIONS["sigmoid"].max_derivative == 0.25
    assert torch_ops(ACTIVATIONS["leaky_relu"]).fn(torch.tensor([-10.0])).item() == pytest.approx(-1.0)
    # tanh(x) = 2 sigmoid(2x) - 1, as the slides say
    x = torch.linspace(-5, 5, 101)
    torch.testing.assert_close(torch.tanh(x), 2 * torch.sigmoid(2 * x) - 1, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_properties_agree_with_the_function(name: str) -> None:
    act = ACTIVATIONS[name]
    ops = torch_ops(act)
    # within +-15 no smooth function's derivative underflows to 0 in float64
    z = torch.linspace(-15, 15, 3001, dtype=torch.float64)
    d = ops.derivative(z, ops.fn(z))
    exactly_zero_side = bool((d[:100] == 0).all() or (d[-100:] == 0).all())
    assert act.can_die == exactly_zero_side
    fading = bool(d[0] < act.saturation_level() or d[-1] < act.saturation_level())
    assert act.saturating == (fading and not exactly_zero_side)
    mean_out = ops.fn(torch.linspace(-3, 3, 601, dtype=torch.float64)).mean().item()
    assert act.zero_centred == (abs(mean_out) < 1e-9)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_fused_backward_equals_chain_rule(name: str) -> None:
    """The training step's fused kernels give dh * f'(z), as the reference derivative does."""
    act = ACTIVATIONS[name]
    ops = torch_ops(act)
    gen = torch.Generator().manual_seed(3)
    z = torch.randn(64, 32, generator=gen, dtype=torch.float64) * 4
    dh = torch.randn(64, 32, generator=gen, dtype=torch.float64)
    a = ops.fn(z)
    torch.testing.assert_close(ops.backward(dh, z, a), dh * ops.derivative(z, a), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_numpy_curves_match_pytorch(name: str) -> None:
    """The Functions view draws the NumPy f and f' (the UI process has no PyTorch): they are
    the functions the training step uses."""
    act = ACTIVATIONS[name]
    ops = torch_ops(act)
    z = np.linspace(-12, 12, 2001, dtype=np.float64)
    zt = torch.from_numpy(z)
    a = act.numpy_fn(z)
    d = act.numpy_derivative(z, a)
    assert a.dtype == np.float64 and d.dtype == np.float64 and a.shape == d.shape == z.shape
    at = ops.fn(zt)
    np.testing.assert_allclose(a, at.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(d, ops.derivative(zt, at).numpy(), rtol=1e-6, atol=1e-6)
