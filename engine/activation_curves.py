"""The registry's curves: f and f' of each built-in activation in NumPy (float64).

Plain NumPy, no PyTorch: the app's UI process draws and measures these. Each matches its
PyTorch twin in `activation_ops`; `activations` builds the registry's entries from them.
f'(z) is given as `derivative(z, a)` with a = f(z), because several derivatives are cheapest
in terms of the output.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

LEAKY_SLOPE = 0.1  # as in the seed: max(0.1 z, z)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def identity(z: Array) -> Array:
    return z


def identity_d(z: Array, a: Array) -> Array:
    return np.ones_like(z)


def sigmoid(z: Array) -> Array:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow in exp for large |z|


def sigmoid_d(z: Array, a: Array) -> Array:
    return a * (1.0 - a)


def tanh_d(z: Array, a: Array) -> Array:
    return 1.0 - a * a


def relu(z: Array) -> Array:
    return np.maximum(z, 0.0)


def relu_d(z: Array, a: Array) -> Array:
    return (z > 0).astype(z.dtype)


def leaky(z: Array) -> Array:
    return np.where(z > 0, z, LEAKY_SLOPE * z)


def leaky_d(z: Array, a: Array) -> Array:
    return np.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype)


def elu(z: Array) -> Array:
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0.0)))


def elu_d(z: Array, a: Array) -> Array:
    # for z <= 0, f = exp(z) - 1, so f' = exp(z) = a + 1
    return np.where(z > 0, 1.0, a + 1.0)


_erf = np.vectorize(math.erf, otypes=[np.float64])  # NumPy has no erf; curves are a few hundred points


def gelu(z: Array) -> Array:
    return z * 0.5 * (1.0 + _erf(z * _INV_SQRT2))


def gelu_d(z: Array, a: Array) -> Array:
    cdf = 0.5 * (1.0 + _erf(z * _INV_SQRT2))
    pdf = np.exp(-0.5 * z * z) * _INV_SQRT_2PI
    return cdf + z * pdf


def silu(z: Array) -> Array:
    return z * sigmoid(z)


def silu_d(z: Array, a: Array) -> Array:
    s = sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


def softplus(z: Array) -> Array:
    return np.logaddexp(0.0, z)


def softplus_d(z: Array, a: Array) -> Array:
    return sigmoid(z)


def softsign(z: Array) -> Array:
    return z / (1.0 + np.abs(z))


def softsign_d(z: Array, a: Array) -> Array:
    d = 1.0 + np.abs(z)
    return 1.0 / (d * d)
