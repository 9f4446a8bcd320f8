"""From a member spec to its `Activation`, for PyTorch-free code: a registry entry with its
parameters applied (`builtin`), or a custom activation this process was told about as plain
data (`remember`, `from_description`): `lookup` answers either.

The UI process draws curves and fills the Properties table from these without importing the
user's code or PyTorch; `custom` measures the descriptions in the process that may import.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from .activation_curves import Array
from .activations import ACTIVATIONS, PARAMETRIC, Activation, SpecError, member_spec
from .events import ActivationDescription


@functools.cache
def builtin(spec: str) -> Activation:
    """The registry entry a builtin spec names, with its parameters applied."""
    ms = member_spec(spec)
    if ms.kind != "builtin":
        raise SpecError(f"activation {spec!r}: not a registry entry")
    entry = ACTIVATIONS[ms.base]
    if ms.base in PARAMETRIC and ms.name != ms.base or ms.base == "prelu":
        entry = PARAMETRIC[ms.base][1](*[v for _, v in ms.params])
    return dataclasses.replace(entry, name=ms.name, base=ms.base, params=ms.params)


# Measured descriptions of custom activations known to this process (by canonical spec):
# the UI process learns them from the engine's RunStarted event or from the helper that
# measured them (`describe`), so its views work without importing the user's code.
_DESCRIBED: dict[str, Activation] = {}


def from_description(d: ActivationDescription) -> Activation:
    """An Activation from the plain data `custom.describe` measures: curves interpolated
    from samples of f and f'."""
    zs = np.asarray(d["z"], dtype=np.float64)
    fs = np.asarray(d["f"], dtype=np.float64)
    ds = np.asarray(d["df"], dtype=np.float64)

    def fn(z: Array) -> Array:
        return np.interp(z, zs, fs)

    def der(z: Array, a: Array) -> Array:
        return np.interp(z, zs, ds)

    return Activation(
        name=d["name"],
        formula=d.get("formula", d["name"]),
        numpy_fn=fn,
        numpy_derivative=der,
        max_derivative=float(d["max_derivative"]),  # an integer when read back from JSON
        output_range=d["output_range"],
        zero_centred=d["zero_centred"],
        saturating=d["saturating"],
        can_die=d["can_die"],
        cost=d.get("cost", "measured in a run"),
        recommended_init=d.get("recommended_init", "kaiming_uniform"),
        note=d.get("note", ""),
        base="custom",
        monotone=d.get("monotone", True),
        kind="custom",
    )


def remember(description: ActivationDescription) -> Activation:
    act = from_description(description)
    _DESCRIBED[act.name] = act
    return act


def lookup(spec: str) -> Activation | None:
    """The Activation a spec names, for PyTorch-free code: registry entries (with parameters)
    and the custom activations this process was told about; None otherwise."""
    try:
        ms = member_spec(spec)
    except SpecError:
        return _DESCRIBED.get(spec)
    if ms.kind == "builtin":
        return builtin(ms.name)
    return _DESCRIBED.get(ms.name)
