"""Registry of hidden-layer activations: name, formula, lesson, properties, and f and f'.

Plain data with NumPy curves, importable without PyTorch: the app's UI process reads it for
the form, the help, the Properties table and the Functions view. The PyTorch functions the
training step runs (hand-written derivatives and fused backward kernels) are in
`activation_ops`; `Activation.fn`, `.derivative` and `.backward` load them on first use.
Both sides are tested against each other and against autograd.

`derivative(z, a)` takes the pre-activation z and the output a = f(z), because several
derivatives are cheapest in terms of the output.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from torch import Tensor

    from .activation_ops import TorchActivation

Array = NDArray[np.float64]

LEAKY_SLOPE = 0.1  # as in the seed: max(0.1 z, z)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Activation:
    """One entry of the registry."""

    name: str
    formula: str
    numpy_fn: Callable[[Array], Array] = field(repr=False)
    numpy_derivative: Callable[[Array, Array], Array] = field(repr=False)  # f'(z) from (z, f(z))
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

    # --- the PyTorch side, for the code that trains -----------------------------------------

    @functools.cached_property
    def torch_ops(self) -> TorchActivation:
        from .activation_ops import TORCH_ACTIVATIONS  # loads PyTorch: only training code gets here

        return TORCH_ACTIVATIONS[self.name]

    def fn(self, z: Tensor) -> Tensor:
        return self.torch_ops.fn(z)

    def derivative(self, z: Tensor, a: Tensor) -> Tensor:
        """f'(z) from (z, f(z))."""
        return self.torch_ops.derivative(z, a)

    def backward(self, dh: Tensor, z: Tensor, a: Tensor) -> Tensor:
        """dL/dz from dL/da: one fused kernel where PyTorch has one, else dh * f'(z)."""
        return self.torch_ops.backward(dh, z, a)


# f and f' in NumPy (float64), each matching its PyTorch twin in activation_ops.


def _identity(z: Array) -> Array:
    return z


def _identity_d(z: Array, a: Array) -> Array:
    return np.ones_like(z)


def _sigmoid(z: Array) -> Array:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow in exp for large |z|


def _sigmoid_d(z: Array, a: Array) -> Array:
    return a * (1.0 - a)


def _tanh_d(z: Array, a: Array) -> Array:
    return 1.0 - a * a


def _relu(z: Array) -> Array:
    return np.maximum(z, 0.0)


def _relu_d(z: Array, a: Array) -> Array:
    return (z > 0).astype(z.dtype)


def _leaky(z: Array) -> Array:
    return np.where(z > 0, z, LEAKY_SLOPE * z)


def _leaky_d(z: Array, a: Array) -> Array:
    return np.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype)


def _elu(z: Array) -> Array:
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0.0)))


def _elu_d(z: Array, a: Array) -> Array:
    # for z <= 0, f = exp(z) - 1, so f' = exp(z) = a + 1
    return np.where(z > 0, 1.0, a + 1.0)


_erf = np.vectorize(math.erf, otypes=[np.float64])  # NumPy has no erf; curves are a few hundred points


def _gelu(z: Array) -> Array:
    return z * 0.5 * (1.0 + _erf(z * _INV_SQRT2))


def _gelu_d(z: Array, a: Array) -> Array:
    cdf = 0.5 * (1.0 + _erf(z * _INV_SQRT2))
    pdf = np.exp(-0.5 * z * z) * _INV_SQRT_2PI
    return cdf + z * pdf


def _silu(z: Array) -> Array:
    return z * _sigmoid(z)


def _silu_d(z: Array, a: Array) -> Array:
    s = _sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


def _softplus(z: Array) -> Array:
    return np.logaddexp(0.0, z)


def _softplus_d(z: Array, a: Array) -> Array:
    return _sigmoid(z)


def _softsign(z: Array) -> Array:
    return z / (1.0 + np.abs(z))


def _softsign_d(z: Array, a: Array) -> Array:
    d = 1.0 + np.abs(z)
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
        _sigmoid,
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
        np.tanh,
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
        _relu,
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
        _elu,
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
        _silu,
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

ADVICE = (
    "Start with ReLU and watch the fraction of dead units; if many die, try Leaky ReLU. "
    "Expect tanh to train slower than ReLU, and avoid sigmoid in hidden layers."
)


def get(name: str) -> Activation:
    return ACTIVATIONS[name]
