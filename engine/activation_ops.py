"""The registry's activations in PyTorch: f, the hand-written f', and the fused backward.

Each derivative is written out by hand (the training step uses it in its own backward pass)
and is tested against autograd; the NumPy curves in `activations` are tested against these.
Training code asks `torch_ops(activation)` for them; parametric entries (`leaky_relu(0.01)`)
are built here from their values. Custom activations (the user's function, its derivative or
autograd) are built by `custom`, which sits above this module: it registers each one here
(`register_custom`) when it resolves or adopts its spec, so this module never imports it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .activation_curves import LEAKY_SLOPE
from .activations import Activation

Tensor = torch.Tensor

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class TorchActivation:
    """One activation's PyTorch functions."""

    name: str
    fn: Callable[[Tensor], Tensor]
    derivative: Callable[[Tensor, Tensor], Tensor]  # f'(z) from (z, f(z))
    fused_backward: Callable[[Tensor, Tensor, Tensor], Tensor] | None = None

    def backward(self, dh: Tensor, z: Tensor, a: Tensor) -> Tensor:
        """dL/dz from dL/da: one fused kernel where PyTorch has one, else dh * f'(z)."""
        if self.fused_backward is not None:
            return self.fused_backward(dh, z, a)
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

_FUNCTIONS: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor, Tensor], Tensor]]] = {
    "identity": (_identity, _identity_d),
    "sigmoid": (torch.sigmoid, _sigmoid_d),
    "tanh": (torch.tanh, _tanh_d),
    "relu": (torch.relu, _relu_d),
    "leaky_relu": (_leaky, _leaky_d),
    "elu": (torch.nn.functional.elu, _elu_d),
    "gelu": (_gelu, _gelu_d),
    "silu": (torch.nn.functional.silu, _silu_d),
    "softplus": (_softplus, _softplus_d),
    "softsign": (_softsign, _softsign_d),
}

TORCH_ACTIVATIONS: dict[str, TorchActivation] = {
    name: TorchActivation(name, *_FUNCTIONS[name], _FUSED_BACKWARD.get(name)) for name in _FUNCTIONS
}


def _leaky_with(slope: float) -> TorchActivation:
    def fn(z: Tensor) -> Tensor:
        return torch.nn.functional.leaky_relu(z, slope)

    def d(z: Tensor, a: Tensor) -> Tensor:
        return torch.where(z > 0, 1.0, slope).to(z.dtype)

    def fused(dh: Tensor, z: Tensor, a: Tensor) -> Tensor:
        return _aten.leaky_relu_backward(dh, z, slope, False)

    return TorchActivation(f"leaky_relu({slope})", fn, d, fused)


def _elu_with(alpha: float) -> TorchActivation:
    def fn(z: Tensor) -> Tensor:
        return torch.nn.functional.elu(z, alpha)

    def d(z: Tensor, a: Tensor) -> Tensor:
        return torch.where(z > 0, torch.ones_like(z), a + alpha)

    def fused(dh: Tensor, z: Tensor, a: Tensor) -> Tensor:
        return _aten.elu_backward(dh, alpha, 1.0, 1.0, True, a)

    return TorchActivation(f"elu({alpha})", fn, d, fused)


def _silu_with(beta: float) -> TorchActivation:
    def fn(z: Tensor) -> Tensor:
        return z * torch.sigmoid(beta * z)

    def d(z: Tensor, a: Tensor) -> Tensor:
        s = torch.sigmoid(beta * z)
        return s * (1.0 + beta * z * (1.0 - s))

    return TorchActivation(f"silu({beta})", fn, d)


def _softplus_with(beta: float) -> TorchActivation:
    def fn(z: Tensor) -> Tensor:
        return torch.nn.functional.softplus(z, beta)

    def d(z: Tensor, a: Tensor) -> Tensor:
        # PyTorch's softplus is linear above beta z = 20: its own derivative there is 1
        return torch.where(beta * z > 20.0, torch.ones_like(z), torch.sigmoid(beta * z))

    def fused(dh: Tensor, z: Tensor, a: Tensor) -> Tensor:
        return _aten.softplus_backward(dh, z, beta, 20.0)

    return TorchActivation(f"softplus({beta})", fn, d, fused)


_PARAMETRIC: dict[str, Callable[..., TorchActivation]] = {
    "leaky_relu": _leaky_with,
    "elu": _elu_with,
    "silu": _silu_with,
    "softplus": _softplus_with,
    "prelu": _leaky_with,  # at a fixed slope; the cohort learns it (model.Cohort)
}


# name -> how to build a custom activation's functions; filled by `custom` (resolve, adopt),
# built on first use only, so adopting a description imports the user's code but calls nothing
_CUSTOM: dict[str, Callable[[], TorchActivation]] = {}


def register_custom(name: str, build: Callable[[], TorchActivation]) -> None:
    """Say how to build the PyTorch functions of the custom activation `name` (its canonical
    spec); `custom` calls this for every spec it resolves or adopts."""
    _CUSTOM[name] = build


def torch_ops(act: Activation) -> TorchActivation:
    """The PyTorch functions of an activation: the registry's own, one built for its
    parameters, or the user's (custom, registered by `custom` when it resolved the spec)."""
    if act.kind == "custom":
        build = _CUSTOM.get(act.name)
        if build is None:
            raise LookupError(
                f"custom activation {act.name!r} has no PyTorch functions in this process: "
                "resolve its spec with custom.resolve (or custom.adopt) first"
            )
        return build()
    if act.params and (act.name != act.base or act.base == "prelu"):
        return _PARAMETRIC[act.base](*[v for _, v in act.params])
    return TORCH_ACTIVATIONS[act.base]
