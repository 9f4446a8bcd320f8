"""The settings form as data: which fields it shows, how text becomes a RunConfig value, and
which field a validation message belongs to.

No Textual here: the controls panel draws these fields, and the checks are plain functions
(tested without a screen). Every message comes from `RunConfig.validate`, so the form and the
command line reject the same values with the same words.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypedDict

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

# A RunConfig value as the form parses it (activations: a tuple of specs; thresholds: floats).
FieldValue = int | float | str | tuple[float, ...] | tuple[str, ...] | None


class FormValues(TypedDict):
    """What the form holds: the members chosen, in the list's order, and each field's text (a
    choice's value for a choice field). One key per field of FIELDS, in its order."""

    activations: list[str]
    depth: str
    width: str
    optimizer: str
    lr: str
    momentum: str
    batch_size: str
    epochs: str
    max_iterations: str
    init: str
    weight_decay: str
    l1: str
    dropout: str
    clip: str
    clip_threshold: str
    loss: str
    input_scaling: str
    thresholds: str
    seed: str
    dataset: str
    data_dir: str


def form_values(activations: list[str], text: Callable[[FieldSpec], str]) -> FormValues:
    """The form's values: `activations`, and each field's text as `text` reads it. (Field by
    field: a TypedDict is built from literal keys; a test holds them to FIELDS.)"""

    def t(name: str) -> str:
        return text(FIELD_BY_NAME[name])

    return FormValues(
        activations=activations,
        depth=t("depth"),
        width=t("width"),
        optimizer=t("optimizer"),
        lr=t("lr"),
        momentum=t("momentum"),
        batch_size=t("batch_size"),
        epochs=t("epochs"),
        max_iterations=t("max_iterations"),
        init=t("init"),
        weight_decay=t("weight_decay"),
        l1=t("l1"),
        dropout=t("dropout"),
        clip=t("clip"),
        clip_threshold=t("clip_threshold"),
        loss=t("loss"),
        input_scaling=t("input_scaling"),
        thresholds=t("thresholds"),
        seed=t("seed"),
        dataset=t("dataset"),
        data_dir=t("data_dir"),
    )


def format_value(spec: FieldSpec, value: object) -> str:
    """A RunConfig value as the text the form shows."""
    if value is None:
        return ""
    if spec.kind == "floats" and isinstance(value, (tuple, list)):
        return ",".join(f"{v:g}" for v in value)
    if spec.kind == "float":
        return f"{value:g}"
    return str(value)


def parse_value(spec: FieldSpec, text: str) -> FieldValue:
    """Form text (or a choice) -> RunConfig value; ConfigError names the field and the text."""
    if spec.kind in ("choice",):
        return text
    raw = text.strip()
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


def _check_one(name: str, value: FieldValue, values: Mapping[str, FieldValue]) -> None:
    """Validate one field alone, on top of the defaults, so every bad field gets its own
    message (RunConfig.validate stops at the first). The value's kind is RunConfig's to check
    (a TypeError, like its ConfigError, is the field's message)."""
    if name == "dataset":
        # the directory is checked on its own
        RunConfig.from_dict({"dataset": value, "data_dir": "-"}).validate()
    elif name == "data_dir":
        if values.get("dataset") == "idx":
            RunConfig.from_dict({"dataset": "idx", "data_dir": value}).validate()
    else:
        RunConfig.from_dict({name: value}).validate()


def check_settings(base: RunConfig, form: FormValues) -> tuple[RunConfig | None, dict[str, str]]:
    """The config the form describes, or None, and an error message per bad field.

    Fields the form does not show (device, cache directory, evaluation cadence) are kept
    from `base`.
    """
    values: dict[str, FieldValue] = {"activations": tuple(form["activations"])}
    errors: dict[str, str] = {}
    texts: Mapping[str, object] = form  # by name: FormValues has one text per field
    for spec in FIELDS:
        try:
            values[spec.name] = parse_value(spec, str(texts[spec.name]))
        except ConfigError as exc:
            errors[spec.name] = str(exc)
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
