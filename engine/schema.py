"""The one validator of stored JSON: events and the results model are checked by their types.

`load(expected, value, where)` checks a JSON value (parsed, not trusted) against a type and
returns it as that type: dataclasses are built from objects (recursively; a field this version
does not know is ignored, a missing field with a default takes it, so older files still read),
TypedDicts and plain dicts, lists and scalars are checked and returned as they are. The first
thing that does not fit is one SchemaError naming its place (`members[2].thresholds[0].sustained:
expected an integer or null, got 'x'`). No PyTorch.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar, Union


class SchemaError(ValueError):
    """A stored value does not have the type it should; the message is one line naming it."""


T = TypeVar("T")

_HINTS: dict[Any, dict[str, Any]] = {}


def hints(cls: Any) -> dict[str, Any]:
    """The resolved annotations of a dataclass or TypedDict (cached)."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


_REQUIRED: dict[Any, frozenset[str]] = {}


def required_keys(td: Any) -> frozenset[str]:
    """A TypedDict's required keys (cached). Python 3.11 counts a `NotRequired[...]` key as
    required when the annotations are strings (`from __future__ import annotations`), so
    those are read off the resolved annotations."""
    if td not in _REQUIRED:
        extras = typing.get_type_hints(td, include_extras=True)
        optional = {k for k, h in extras.items() if typing.get_origin(h) is typing.NotRequired}
        _REQUIRED[td] = frozenset(td.__required_keys__) - optional
    return _REQUIRED[td]


def load_as(cls: type[T], value: Any, where: str) -> T:
    """`value` as an instance of the dataclass `cls` (see `load`)."""
    return typing.cast(T, load(cls, value, where))


def load(expected: Any, value: Any, where: str) -> Any:
    """`value` checked against `expected` and returned as it (dataclasses built)."""
    if expected is Any or expected is object:
        return value
    origin = typing.get_origin(expected)
    args = typing.get_args(expected)
    if origin in (Union, types.UnionType):
        candidates = [a for a in args if a is not type(None) or value is None]
        problems = []
        for a in candidates:
            try:
                return load(a, value, where)
            except SchemaError as exc:
                problems.append(str(exc))
        # one candidate type (X | None): its own, more precise, reason
        raise SchemaError(problems[0] if len(problems) == 1 else f"{where}: expected {describe(expected)}")
    if origin is list:
        if not isinstance(value, list):
            raise SchemaError(f"{where}: expected {describe(expected)}, got {short(value)}")
        return [load(args[0], item, f"{where}[{i}]") for i, item in enumerate(value)]
    if origin is tuple:  # fixed length, stored as a JSON list
        if not isinstance(value, list) or len(value) != len(args):
            raise SchemaError(f"{where}: expected a list of {len(args)} values, got {short(value)}")
        return tuple(load(a, item, f"{where}[{i}]") for i, (a, item) in enumerate(zip(args, value)))
    if origin is dict:
        if not isinstance(value, dict):
            raise SchemaError(f"{where}: expected an object, got {short(value)}")
        for k, item in value.items():
            load(args[1], item, f"{where}.{k}" if where else str(k))
        return value
    if typing.is_typeddict(expected):
        if not isinstance(value, dict):
            raise SchemaError(f"{where}: expected an object, got {short(value)}")
        for key, hint in hints(expected).items():
            if key not in value:
                if key in required_keys(expected):
                    raise SchemaError(f"{where}: missing field {key!r}")
                continue
            load(hint, value[key], f"{where}.{key}" if where else key)
        return value
    if dataclasses.is_dataclass(expected) and isinstance(expected, type):
        return _load_dataclass(expected, value, where)
    ok = _SCALARS[expected](value)
    if not ok:
        raise SchemaError(f"{where}: expected {describe(expected)}, got {short(value)}")
    return value


def _load_dataclass(cls: type, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise SchemaError(f"{where}: expected an object, got {short(value)}")
    types_ = hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        place = f"{where}.{f.name}" if where else f.name
        if f.name not in value:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise SchemaError(f"{where or cls.__name__}: missing field {f.name!r}")
            continue
        values[f.name] = load(types_[f.name], value[f.name], place)
    return cls(**values)


def mismatch(value: Any, expected: Any, where: str) -> str | None:
    """Why `value` does not have type `expected` (None when it does), naming the place."""
    try:
        load(expected, value, where)
    except SchemaError as exc:
        return str(exc)
    return None


_SCALARS: dict[Any, typing.Callable[[Any], bool]] = {
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    str: lambda v: isinstance(v, str),
    bool: lambda v: isinstance(v, bool),
    type(None): lambda v: v is None,
}


def describe(t: Any) -> str:
    if t is type(None):
        return "null"
    args = typing.get_args(t)
    if typing.get_origin(t) in (Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if typing.get_origin(t) is list:
        return f"a list of {describe(args[0])}"
    if typing.get_origin(t) is dict or typing.is_typeddict(t) or dataclasses.is_dataclass(t):
        return "an object"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(t, str(t))


def kind_of(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(v), "null" if v is None else "a number"
    )


def short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else f"{kind_of(v)} ({text[:30]}...)"


# a dataclass field written only when it holds a value (an older file's shape, kept); in
# place of True, a function of the object says when a None is left out
OMIT_NONE = {"omit_none": True}


def dump(obj: Any) -> Any:
    """A value of the model as JSON-ready data: dataclasses as objects in field order (fields
    marked OMIT_NONE left out when None), tuples as lists."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            omit = f.metadata.get("omit_none")
            if v is None and omit and (omit is True or omit(obj)):
                continue
            out[f.name] = dump(v)
        return out
    if isinstance(obj, (list, tuple)):
        return [dump(v) for v in obj]
    if isinstance(obj, dict):
        return {k: dump(v) for k, v in obj.items()}
    return obj
