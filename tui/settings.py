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

from actlab.engine.config import CLIPS, DATASETS, INITS, LOSSES, OPTIMIZERS, SCALINGS, ConfigError, RunConfig

Kind = Literal["int", "float", "optional_int", "floats", "choice", "text"]


@dataclass(frozen=True)
class FieldSpec:
    """One editable RunConfig field of the form."""

    name: str  # the RunConfig field (and the name validation messages use)
    label: str
    kind: Kind
    choices: tuple[str, ...] = ()
    tooltip: str = ""


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("depth", "hidden layers", "int", tooltip="Hidden layers, each `width` units (>= 1)."),
    FieldSpec("width", "units/layer", "int", tooltip="Units per hidden layer (>= 1)."),
    FieldSpec("optimizer", "optimizer", "choice", OPTIMIZERS, "sgd (with momentum) or adam."),
    FieldSpec("lr", "learning rate", "float", tooltip="Step size of the optimizer (> 0)."),
    FieldSpec("momentum", "momentum", "float", tooltip="SGD momentum in [0, 1); adam ignores it."),
    FieldSpec("batch_size", "batch size", "int", tooltip="Samples per iteration (>= 1)."),
    FieldSpec("epochs", "epochs", "int", tooltip="Passes over the training split (>= 1)."),
    FieldSpec(
        "max_iterations",
        "max iterations",
        "optional_int",
        tooltip="Stop after this many iterations, even mid-epoch; blank: all epochs.",
    ),
    FieldSpec(
        "init",
        "weight init",
        "choice",
        INITS,
        "The same initial tensors for every member; 'recommended' gives each activation its own.",
    ),
    FieldSpec("weight_decay", "L2", "float", tooltip="L2 penalty on weights (>= 0)."),
    FieldSpec("l1", "L1", "float", tooltip="L1 penalty on weights (>= 0)."),
    FieldSpec("dropout", "dropout", "float", tooltip="Dropout on hidden layers in [0, 1), one mask for all."),
    FieldSpec(
        "clip",
        "clipping",
        "choice",
        CLIPS,
        "Gradient clipping per member: by L2, L1 or L-infinity norm, or each value to [-t, t].",
    ),
    FieldSpec("clip_threshold", "clip threshold", "float", tooltip="Threshold t of the clipping (> 0)."),
    FieldSpec("loss", "loss", "choice", LOSSES, "cross_entropy, or mse between softmax and one-hot."),
    FieldSpec(
        "input_scaling",
        "input scaling",
        "choice",
        SCALINGS,
        "standard (zero mean, unit variance), unit ([0, 1]) or raw (0-255).",
    ),
    FieldSpec(
        "thresholds",
        "thresholds",
        "floats",
        tooltip="Test accuracies to time, comma-separated, each in (0, 1].",
    ),
    FieldSpec("seed", "seed", "int", tooltip="Seed for the initial weights and batch order (>= 0)."),
    FieldSpec(
        "dataset",
        "dataset",
        "choice",
        DATASETS,
        "sample: 5,000 bundled MNIST digits (offline); mnist, fashion, kmnist: downloaded; idx: a directory.",
    ),
    FieldSpec("data_dir", "data dir", "text", tooltip="Directory of the four IDX files (dataset idx)."),
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
