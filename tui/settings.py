"""The settings form as data: which fields it shows, how text becomes a RunConfig value, and
which field a validation message belongs to.

No Textual here: the controls panel draws these fields, and the checks are plain functions
(tested without a screen). Every message comes from `RunConfig.validate`, so the form and the
command line reject the same values with the same words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from actlab.engine.config import SETTINGS, ConfigError, RunConfig

Kind = Literal["int", "float", "optional_int", "floats", "choice", "text"]


@dataclass(frozen=True)
class FieldSpec:
    """One editable RunConfig field of the form."""

    name: str  # the RunConfig field (and the name validation messages use)
    label: str  # from the field's description (config.SETTINGS), as are choices and tooltip
    kind: Kind
    choices: tuple[str, ...] = ()
    tooltip: str = ""


def _field(name: str, kind: Kind) -> FieldSpec:
    """The form field of a RunConfig field: label, choices and tooltip from its description."""
    setting = SETTINGS[name]
    return FieldSpec(name, setting.label, kind, setting.choices, setting.help_with_default())


FIELDS: tuple[FieldSpec, ...] = (
    _field("depth", "int"),
    _field("width", "int"),
    _field("optimizer", "choice"),
    _field("lr", "float"),
    _field("momentum", "float"),
    _field("batch_size", "int"),
    _field("epochs", "int"),
    _field("max_iterations", "optional_int"),
    _field("init", "choice"),
    _field("weight_decay", "float"),
    _field("l1", "float"),
    _field("dropout", "float"),
    _field("clip", "choice"),
    _field("clip_threshold", "float"),
    _field("loss", "choice"),
    _field("input_scaling", "choice"),
    _field("thresholds", "floats"),
    _field("seed", "int"),
    _field("dataset", "choice"),
    _field("data_dir", "text"),
)

FIELD_BY_NAME = {f.name: f for f in FIELDS}
FORM_ERROR = "_form"  # key of an error that belongs to no single field


def format_value(spec: FieldSpec, value: Any) -> str:
    """A RunConfig value as the text the form shows."""
    if value is None:
        return ""
    if spec.kind == "floats":
        return ",".join(f"{v:g}" for v in value)
    if spec.kind == "float":
        return f"{value:g}"
    return str(value)


def parse_value(spec: FieldSpec, text: Any) -> Any:
    """Form text (or a choice) -> RunConfig value; ConfigError names the field and the text."""
    if spec.kind in ("choice",):
        return text
    raw = str(text).strip()
    if spec.kind == "text":
        return raw or None
    if spec.kind == "optional_int" and not raw:
        return None
    if spec.kind in ("int", "optional_int"):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{spec.name} {raw!r}: must be a whole number") from None
    if spec.kind == "float":
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{spec.name} {raw!r}: must be a number") from None
        if not math.isfinite(value):
            raise ConfigError(f"{spec.name} {raw!r}: must be a finite number")
        return value
    # floats: a comma-separated list
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    try:
        return tuple(float(p) for p in parts)
    except ValueError:
        raise ConfigError(f"{spec.name} {raw!r}: must be numbers separated by commas") from None


def _check_one(name: str, value: Any, values: dict[str, Any]) -> None:
    """Validate one field alone, on top of the defaults, so every bad field gets its own
    message (RunConfig.validate stops at the first)."""
    if name == "dataset":
        RunConfig(dataset=value, data_dir="-").validate()  # the directory is checked on its own
    elif name == "data_dir":
        if values.get("dataset") == "idx":
            RunConfig(dataset="idx", data_dir=value).validate()
    else:
        RunConfig(**{name: value}).validate()


def check_settings(base: RunConfig, form: dict[str, Any]) -> tuple[RunConfig | None, dict[str, str]]:
    """The config the form describes, or None, and an error message per bad field.

    `form` maps field names (and "activations") to the widgets' raw values; fields the form
    does not show (device, cache directory, evaluation cadence) are kept from `base`.
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, raw in form.items():
        spec = FIELD_BY_NAME.get(name)
        try:
            values[name] = tuple(raw) if spec is None else parse_value(spec, raw)
        except ConfigError as exc:
            errors[name] = str(exc)
    for name, value in values.items():
        if name in errors:
            continue
        try:
            _check_one(name, value, values)
        except (ConfigError, TypeError) as exc:
            errors[name] = str(exc)
    if errors:
        return None, errors
    try:
        return base.replace(**values).validate(), {}
    except (ConfigError, TypeError) as exc:  # a combination, or a setting the form does not show
        return None, {FORM_ERROR: str(exc)}
