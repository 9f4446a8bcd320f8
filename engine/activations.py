"""Registry of hidden-layer activations: function, derivative and properties.

Each derivative is written out by hand (the training step uses it in its own backward pass)
and is tested against autograd. `derivative(z, a)` takes the pre-activation z and the output
a = f(z), because several derivatives are cheapest in terms of the output.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

Tensor = torch.Tensor

LEAKY_SLOPE = 0.1  # as in the seed: max(0.1 z, z)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Activation:
    """One entry of the registry."""

    name: str
    formula: str
    fn: Callable[[Tensor], Tensor]
    derivative: Callable[[Tensor, Tensor], Tensor]  # f'(z) from (z, f(z))
    max_derivative: float  # sup of f'; "saturated" means f' below 1% of this
    output_range: str
    zero_centred: bool
    saturating: bool  # f' tends to 0 for large |z| on at least one side
    can_die: bool  # f' is exactly 0 on a whole half-line, so a unit can stop learning
    cost: str  # what one evaluation costs, relative to a comparison
    recommended_init: str
    note: str  # the one-line lesson of the seed's slides

    def saturation_level(self) -> float:
        return 0.01 * self.max_derivative

    def backward(self, dh: Tensor, z: Tensor, a: Tensor) -> Tensor:
        """dL/dz from dL/da: one fused kernel where PyTorch has one, else dh * f'(z)."""
        fused = _FUSED_BACKWARD.get(self.name)
        if fused is not None:
            return fused(dh, z, a)
        return dh * self.derivative(z, a)


def _identity(z: Tensor) -> Tensor:
    return z


def _identity_d(z: Tensor, a: Tensor) -> Tensor:
    return torch.ones_like(z)


def _sigmoid_d(z: Tensor, a: Tensor) -> Tensor:
    return a * (1.0 - a)


def _tanh_d(z: Tensor, a: Tensor) -> Tensor:
    return 1.0 - a * a


def _relu_d(z: Tensor, a: Tensor) -> Tensor:
    return (z > 0).to(z.dtype)


def _leaky(z: Tensor) -> Tensor:
    return torch.nn.functional.leaky_relu(z, LEAKY_SLOPE)


def _leaky_d(z: Tensor, a: Tensor) -> Tensor:
    return torch.where(z > 0, 1.0, LEAKY_SLOPE).to(z.dtype)


def _elu_d(z: Tensor, a: Tensor) -> Tensor:
    # for z <= 0, f = exp(z) - 1, so f' = exp(z) = a + 1
    return torch.where(z > 0, torch.ones_like(z), a + 1.0)


def _gelu(z: Tensor) -> Tensor:
    return torch.nn.functional.gelu(z)


def _gelu_d(z: Tensor, a: Tensor) -> Tensor:
    cdf = 0.5 * (1.0 + torch.erf(z * _INV_SQRT2))
    pdf = torch.exp(-0.5 * z * z) * _INV_SQRT_2PI
    return cdf + z * pdf


def _silu_d(z: Tensor, a: Tensor) -> Tensor:
    s = torch.sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


def _softplus(z: Tensor) -> Tensor:
    return torch.nn.functional.softplus(z)


def _softplus_d(z: Tensor, a: Tensor) -> Tensor:
    return torch.sigmoid(z)


def _softsign(z: Tensor) -> Tensor:
    return z / (1.0 + z.abs())


def _softsign_d(z: Tensor, a: Tensor) -> Tensor:
    d = 1.0 + z.abs()
    return 1.0 / (d * d)


_ENTRIES = [
    Activation(
        "identity",
        "z",
        _identity,
        _identity_d,
        1.0,
        "(-inf, inf)",
        True,
        False,
        False,
        "none",
        "xavier_uniform",
        "No non-linearity: stacked layers collapse to one linear map; activations can blow up.",
    ),
    Activation(
        "sigmoid",
        "1 / (1 + exp(-z))",
        torch.sigmoid,
        _sigmoid_d,
        0.25,
        "(0, 1)",
        False,
        True,
        False,
        "1 exp",
        "xavier_uniform",
        "f' <= 1/4, so the gradient shrinks by 4x or more per layer; saturates; not zero-centred.",
    ),
    Activation(
        "tanh",
        "tanh(z) = 2 sigmoid(2z) - 1",
        torch.tanh,
        _tanh_d,
        1.0,
        "(-1, 1)",
        True,
        True,
        False,
        "2 exp",
        "xavier_uniform",
        "Zero-centred and f' up to 1, but saturates for |z| beyond about 3.",
    ),
    Activation(
        "relu",
        "max(0, z)",
        torch.relu,
        _relu_d,
        1.0,
        "[0, inf)",
        False,
        False,
        True,
        "1 comparison",
        "kaiming_uniform",
        "Go-to choice: no saturation for z > 0, cheap; watch the fraction of dead units.",
    ),
    Activation(
        "leaky_relu",
        "max(0.1 z, z)",
        _leaky,
        _leaky_d,
        1.0,
        "(-inf, inf)",
        False,
        False,
        False,
        "1 comparison",
        "kaiming_uniform",
        "ReLU with slope 0.1 for z < 0: units cannot die. Try it when ReLU units die.",
    ),
    Activation(
        "elu",
        "z if z > 0 else exp(z) - 1",
        torch.nn.functional.elu,
        _elu_d,
        1.0,
        "(-1, inf)",
        False,
        True,
        False,
        "1 exp",
        "kaiming_uniform",
        "Smooth ReLU variant with mean output nearer zero; saturates only for z < 0.",
    ),
    Activation(
        "gelu",
        "z * Phi(z)",
        _gelu,
        _gelu_d,
        1.1289,
        "[-0.17, inf)",
        False,
        True,
        False,
        "1 erf",
        "kaiming_uniform",
        "Smooth ReLU-like gate used in transformers; small non-zero gradient for z < 0.",
    ),
    Activation(
        "silu",
        "z * sigmoid(z) (swish)",
        torch.nn.functional.silu,
        _silu_d,
        1.0998,
        "[-0.28, inf)",
        False,
        True,
        False,
        "1 exp",
        "kaiming_uniform",
        "Smooth, non-monotonic ReLU-like function; gradient fades slowly for z < 0.",
    ),
    Activation(
        "softplus",
        "log(1 + exp(z))",
        _softplus,
        _softplus_d,
        1.0,
        "(0, inf)",
        False,
        True,
        False,
        "1 exp, 1 log",
        "kaiming_uniform",
        "Smooth ReLU; its derivative is the sigmoid, so it fades for z < 0.",
    ),
    Activation(
        "softsign",
        "z / (1 + |z|)",
        _softsign,
        _softsign_d,
        1.0,
        "(-1, 1)",
        True,
        True,
        False,
        "1 division",
        "xavier_uniform",
        "Like tanh, but saturates polynomially rather than exponentially.",
    ),
]

ACTIVATIONS: dict[str, Activation] = {a.name: a for a in _ENTRIES}

_aten = torch.ops.aten
# PyTorch's own backward kernels: one pass instead of computing f' and multiplying. The
# training step uses these; `derivative` stays the reference (and serves diagnostics).
_FUSED_BACKWARD: dict[str, Callable[[Tensor, Tensor, Tensor], Tensor]] = {
    "identity": lambda dh, z, a: dh,
    "sigmoid": lambda dh, z, a: _aten.sigmoid_backward(dh, a),
    "tanh": lambda dh, z, a: _aten.tanh_backward(dh, a),
    "relu": lambda dh, z, a: _aten.threshold_backward(dh, a, 0.0),
    "leaky_relu": lambda dh, z, a: _aten.leaky_relu_backward(dh, z, LEAKY_SLOPE, False),
    "elu": lambda dh, z, a: _aten.elu_backward(dh, 1.0, 1.0, 1.0, True, a),
    "gelu": lambda dh, z, a: _aten.gelu_backward(dh, z),
    "silu": lambda dh, z, a: _aten.silu_backward(dh, z),
    "softplus": lambda dh, z, a: _aten.softplus_backward(dh, z, 1.0, 20.0),
}

ADVICE = (
    "Start with ReLU and watch the fraction of dead units; if many die, try Leaky ReLU. "
    "Expect tanh to train slower than ReLU, and avoid sigmoid in hidden layers."
)


def get(name: str) -> Activation:
    return ACTIVATIONS[name]
