"""Registry of hidden-layer activations: name, formula, lesson, properties, and f and f'
(the NumPy curves are in `activation_curves`); the parametric entries; member specs parsed.

Plain data with NumPy curves, importable without PyTorch: the app's UI process reads it for
the form, the help, the Properties table and the Functions view. The PyTorch functions the
training step runs (hand-written derivatives and fused backward kernels) are in
`activation_ops`, which depends on this module and never the other way: training code asks it
for an Activation's functions (`activation_ops.torch_ops`). Both sides are tested against
each other and against autograd.

`derivative(z, a)` takes the pre-activation z and the output a = f(z), because several
derivatives are cheapest in terms of the output.

A member is named by a spec (`member_spec` parses it without PyTorch):
- a registry name, with parameters where it has any: `leaky_relu(0.01)`, `elu(alpha=0.5)`;
- `prelu`: a leaky ReLU whose slope is learned, one per hidden layer;
- the user's own function: `mypkg.acts:fn` (imported from the import path) or
  `./acts.py:fn` (a file, relative to the working directory), or a name a package registers
  in the entry-point group `actlab.activations`. Their properties are measured, not
  declared (`custom`), and reach PyTorch-free code as plain data (`activation_lookup`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import activation_curves as curves
from .activation_curves import LEAKY_SLOPE, Array


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
    base: str = ""  # the registry entry it comes from ("" for the entry itself; "custom")
    params: tuple[tuple[str, float], ...] = ()  # its parameters, in the entry's order
    monotone: bool = True
    kind: str = "builtin"  # builtin | learned (prelu) | custom (the user's function)

    def __post_init__(self) -> None:
        if not self.base:
            object.__setattr__(self, "base", self.name)

    @property
    def param_values(self) -> dict[str, float]:
        return dict(self.params)

    def saturation_level(self) -> float:
        return 0.01 * self.max_derivative


_ENTRIES = [
    Activation(
        "identity",
        "z",
        curves.identity,
        curves.identity_d,
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
        curves.sigmoid,
        curves.sigmoid_d,
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
        curves.tanh_d,
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
        curves.relu,
        curves.relu_d,
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
        curves.leaky,
        curves.leaky_d,
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
        curves.elu,
        curves.elu_d,
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
        curves.gelu,
        curves.gelu_d,
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
        curves.silu,
        curves.silu_d,
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
        curves.softplus,
        curves.softplus_d,
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
        curves.softsign,
        curves.softsign_d,
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


# ----------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Param:
    """One parameter of a registry entry and the values it may take."""

    name: str
    default: float
    low: float
    high: float
    low_open: bool = True  # low itself excluded
    high_open: bool = False

    def check(self, spec: str, value: float) -> None:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        if not (above and below):
            lo, hi = ("(" if self.low_open else "["), (")" if self.high_open else "]")
            raise SpecError(
                f"activation {spec!r}: {self.name} {_num_text(value)} must be in {lo}{_num_text(self.low)}, "
                f"{_num_text(self.high)}{hi}"
            )


class SpecError(ValueError):
    """A member spec that cannot be used; one line naming the spec and the reason.
    (`config` turns it into a ConfigError.)"""


def _num_text(v: float) -> str:
    text = repr(float(v))
    return text[:-2] if text.endswith(".0") else text


def _leaky_with(slope: float) -> Activation:
    def fn(z: Array) -> Array:
        return np.where(z > 0, z, slope * z)

    def d(z: Array, a: Array) -> Array:
        return np.where(z > 0, 1.0, slope).astype(z.dtype)

    base = ACTIVATIONS["leaky_relu"]
    return dataclasses.replace(
        base,
        formula=f"max({_num_text(slope)} z, z)",
        numpy_fn=fn,
        numpy_derivative=d,
        max_derivative=max(1.0, slope),
        output_range="[0, inf)" if slope == 0 else "(-inf, inf)",
        can_die=slope == 0,
        note=f"ReLU with slope {_num_text(slope)} for z < 0"
        + (": units can die, as with ReLU." if slope == 0 else ": units cannot die."),
    )


def _elu_with(alpha: float) -> Activation:
    def fn(z: Array) -> Array:
        return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))

    def d(z: Array, a: Array) -> Array:
        return np.where(z > 0, 1.0, a + alpha)

    return dataclasses.replace(
        ACTIVATIONS["elu"],
        formula=f"z if z > 0 else {_num_text(alpha)} (exp(z) - 1)",
        numpy_fn=fn,
        numpy_derivative=d,
        max_derivative=max(1.0, alpha),
        output_range=f"(-{_num_text(alpha)}, inf)",
    )


def _silu_with(beta: float) -> Activation:
    def fn(z: Array) -> Array:
        return z * curves.sigmoid(beta * z)

    def d(z: Array, a: Array) -> Array:
        s = curves.sigmoid(beta * z)
        return s * (1.0 + beta * z * (1.0 - s))

    return dataclasses.replace(
        ACTIVATIONS["silu"],
        formula=f"z * sigmoid({_num_text(beta)} z) (swish)",
        numpy_fn=fn,
        numpy_derivative=d,
        output_range=f"[{-0.2785 / beta:.2g}, inf)",  # min of u sigmoid(u) is -0.2785, at u = z beta
    )


def _softplus_with(beta: float) -> Activation:
    def fn(z: Array) -> Array:
        return np.logaddexp(0.0, beta * z) / beta

    def d(z: Array, a: Array) -> Array:
        return curves.sigmoid(beta * z)

    return dataclasses.replace(
        ACTIVATIONS["softplus"],
        formula=f"log(1 + exp({_num_text(beta)} z)) / {_num_text(beta)}",
        numpy_fn=fn,
        numpy_derivative=d,
    )


PRELU_INIT = 0.25  # torch.nn.PReLU's initial slope


def _prelu_with(init: float) -> Activation:
    entry = _leaky_with(init)
    return dataclasses.replace(
        entry,
        name="prelu",
        formula=f"max(a z, z), a learned (from {_num_text(init)})",
        note="Leaky ReLU whose negative slope is learned, one per hidden layer; the curve "
        "shows the starting slope.",
        kind="learned",
        base="prelu",
        params=(("init", init),),
        output_range="(-inf, inf)",
        can_die=False,
        max_derivative=1.0,
    )


# registry entry -> its parameters and how an entry with given values is built
PARAMETRIC: dict[str, tuple[tuple[Param, ...], Callable[..., Activation]]] = {
    "leaky_relu": ((Param("slope", LEAKY_SLOPE, 0.0, 1.0, low_open=False, high_open=True),), _leaky_with),
    "elu": ((Param("alpha", 1.0, 0.0, 10.0),), _elu_with),
    "silu": ((Param("beta", 1.0, 0.0, 100.0),), _silu_with),
    "softplus": ((Param("beta", 1.0, 0.0, 100.0),), _softplus_with),
    "prelu": ((Param("init", PRELU_INIT, 0.0, 1.0, low_open=False, high_open=True),), _prelu_with),
}

ACTIVATIONS["prelu"] = _prelu_with(PRELU_INIT)
BUILTIN_NAMES: tuple[str, ...] = tuple(ACTIVATIONS)

ENTRY_POINT_GROUP = "actlab.activations"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\Z", re.S)


@dataclass(frozen=True)
class MemberSpec:
    """What a member spec names: `kind` builtin (a registry entry, with parameters) or custom
    (`target` is `module:attr` or `path.py:attr`; `entry_point` when a package registered it)."""

    name: str  # the canonical spec: what tables, JSON and legends show
    kind: str  # builtin | custom
    base: str = ""
    params: tuple[tuple[str, float], ...] = ()
    target: str = ""
    entry_point: str | None = None

    @property
    def is_file(self) -> bool:
        return self.kind == "custom" and _is_file_target(self.target)


def _is_file_target(target: str) -> bool:
    module = target.rpartition(":")[0]
    return module.endswith(".py") or "/" in module or "\\" in module


@functools.cache
def entry_points() -> dict[str, str]:
    """Activations registered by installed packages: name -> `module:attr` (no import)."""
    from importlib.metadata import entry_points as found

    out: dict[str, str] = {}
    for ep in found(group=ENTRY_POINT_GROUP):
        if ep.name not in ACTIVATIONS and _NAME.match(ep.name):
            out.setdefault(ep.name, ep.value)
    return out


def known_names() -> list[str]:
    """Every name a spec may use without parameters: the registry, then entry points."""
    return [*BUILTIN_NAMES, *entry_points()]


def member_spec(text: str) -> MemberSpec:
    """Parse a member spec (no import, no PyTorch); SpecError says what is wrong."""
    if not isinstance(text, str):
        raise SpecError(f"activation {text!r}: must be a string")
    spec = text.strip()
    if not spec:
        raise SpecError("activation '': empty name")
    if ":" in spec and "(" not in spec.partition(":")[0]:
        module, _, attr = spec.rpartition(":")
        if not module or not _NAME.match(attr):
            raise SpecError(
                f"activation {spec!r}: a custom activation is module:function or file.py:function"
            )
        if not _is_file_target(spec) and not all(_NAME.match(part) for part in module.split(".")):
            raise SpecError(f"activation {spec!r}: {module!r} is neither a module name nor a .py file")
        return MemberSpec(spec, "custom", base="custom", target=spec)
    call = _CALL.match(spec)
    name, args = (call.group(1), call.group(2)) if call else (spec, None)
    # the registry first: scanning installed packages' entry points takes tens of ms
    if name not in ACTIVATIONS and name in entry_points():
        if args is not None:
            raise SpecError(f"activation {spec!r}: {name} takes no parameters")
        return MemberSpec(name, "custom", base="custom", target=entry_points()[name], entry_point=name)
    if not _NAME.match(name) or name not in ACTIVATIONS:
        raise SpecError(
            f"unknown activation {spec!r}; choose from: {', '.join(known_names())}, "
            "or give module:function or file.py:function"
        )
    params = PARAMETRIC.get(name, ((), None))[0]
    values = {p.name: p.default for p in params}
    if args is not None and args.strip():
        if not params:
            raise SpecError(f"activation {spec!r}: {name} takes no parameters")
        given: set[str] = set()
        for i, raw in enumerate(a.strip() for a in args.split(",")):
            key, eq, value = raw.partition("=")
            if eq:
                key = key.strip()
                if key not in values:
                    allowed = ", ".join(p.name for p in params)
                    raise SpecError(
                        f"activation {spec!r}: {name} has no parameter {key!r}; it takes {allowed}"
                    )
            else:
                if i >= len(params):
                    raise SpecError(f"activation {spec!r}: {name} takes {len(params)} parameter(s)")
                key, value = params[i].name, raw
            if key in given:
                raise SpecError(f"activation {spec!r}: {key} given twice")
            given.add(key)
            try:
                number = float(value.strip())
            except ValueError:
                raise SpecError(f"activation {spec!r}: {key} {value.strip()!r} is not a number") from None
            if not math.isfinite(number):
                raise SpecError(f"activation {spec!r}: {key} {value.strip()!r} must be a finite number")
            values[key] = number
        for p in params:
            p.check(spec, values[p.name])
    pairs = tuple((p.name, values[p.name]) for p in params)
    default = all(v == p.default for p, (_, v) in zip(params, pairs))
    canonical = name if default else f"{name}({', '.join(_num_text(v) for _, v in pairs)})"
    return MemberSpec(canonical, "builtin", base=name, params=pairs)


def canonical(text: str) -> str:
    return member_spec(text).name
