"""The event stream: what a comparison reports, as plain dataclasses.

The engine calls one listener with these; the batch progress display, the results writer
and the TUI all listen to the same stream. Each event turns into one JSON object with a
"type" field (`to_dict`) and back (`from_dict`), which is how `events.jsonl` stores a run.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, NotRequired, TypedDict

from .schema import kind_of as _kind_of
from .schema import mismatch as _mismatch
from .schema import short as _short


class EventError(ValueError):
    """A stored object is not a valid event; the message is one line naming the field."""


# Schemas of the dicts inside events. The event classes keep their plain `dict[str, Any]`
# annotations (what the engine passes in); a reader checks stored events against these.


class DatasetInfo(TypedDict):
    name: str
    source: str
    train_size: int
    test_size: int
    notice: str | None


class StoredConfig(TypedDict):
    """The settings a reader of a stored run relies on (the rest are passed through)."""

    activations: list[str]
    thresholds: list[float]
    epochs: int


class ConfigDict(StoredConfig, total=False):
    """A run's settings as stored (`RunConfig.to_dict`, config.json, a summary's `config`).
    Runs written by an older actlab may lack some; a reader takes what is there."""

    depth: int
    width: int
    optimizer: str
    lr: float
    momentum: float
    batch_size: int
    max_iterations: int | None
    init: str
    weight_decay: float
    l1: float
    dropout: float
    clip: str
    clip_threshold: float
    loss: str
    input_scaling: str
    eval_every: int | None
    diagnostics_every: int | None
    seed: int
    dataset: str
    data_dir: str | None
    cache_dir: str | None
    fallback: bool
    device: str


# a per-member setting's value as a sweep's axis or a cohort's member settings hold it
SettingValue = int | float | str


class CohortInfo(TypedDict):
    """A run trained in a larger cohort: its size; for a seed or a sweep point its job, point
    and seeds; in the stream of the whole cohort, each member's own settings."""

    members: int
    job: NotRequired[int]
    point: NotRequired[str]
    seeds: NotRequired[list[int]]
    member_settings: NotRequired[list[dict[str, SettingValue]]]


class LayerDiagnostics(TypedDict):
    grad_norm: float | None
    saturated_fraction: float | None
    dead_fraction: float | None
    activation_mean: float | None
    activation_std: float | None
    preact_hist: list[float]


class ClippingDiagnostics(TypedDict):
    clipped_fraction: float
    clipped_fraction_total: float
    preclip_norm: float
    preclip_norm_max: float
    threshold: float


class _LearnedDiagnostics(TypedDict, total=False):
    prelu_slopes: list[float | None]  # a prelu member's learned slope per hidden layer


class MemberDiagnostics(_LearnedDiagnostics):
    layers: list[LayerDiagnostics]
    output_grad_norm: float | None
    clipping: NotRequired[ClippingDiagnostics | None]


@dataclass
class Event:
    kind: ClassVar[str] = "event"
    # field name -> the type a stored value must have, where it is finer than the annotation
    stored_as: ClassVar[dict[str, Any]] = {}

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, **dataclasses.asdict(self)}


@dataclass
class RunStarted(Event):
    """A comparison begins: its settings, data, device and cadence."""

    kind: ClassVar[str] = "run_started"
    stored_as: ClassVar[dict[str, Any]] = {"config": StoredConfig, "dataset": DatasetInfo}
    config: dict[str, Any]
    members: list[str]  # activation of each member, in order
    baseline: str
    dataset: dict[str, Any]  # name, source, train_size, test_size, notice
    device: str
    eval_every: int
    diagnostics_every: int
    iterations_per_epoch: int
    total_iterations: int
    layer_sizes: list[int] = field(default_factory=list)  # input, hidden..., output
    # custom members' measured properties and curves (`custom.describe`), so that a reader
    # without PyTorch or the user's code can show them
    custom_activations: list[dict[str, Any]] = field(default_factory=list)
    # None: the members are the comparison's activations, trained alone. Else they were
    # trained in a larger cohort (seeds stacked, a sweep's learning rates...): its size, and
    # each member's own settings (`member_settings`, in the stream of the whole cohort only).
    # Epoch times are then the whole cohort's.
    cohort: dict[str, Any] | None = None


@dataclass
class Progress(Event):
    """Training goes on (a few per second at most); not stored in events.jsonl."""

    kind: ClassVar[str] = "progress"
    iteration: int
    epoch: int
    elapsed_s: float


@dataclass
class Evaluation(Event):
    """Test accuracy and loss of every member at one iteration (None: member diverged)."""

    kind: ClassVar[str] = "evaluation"
    iteration: int
    epoch: int  # 1-based epoch the iteration belongs to
    accuracy: list[float | None]
    test_loss: list[float | None]
    train_loss: list[float | None]  # mean training loss since the previous evaluation


@dataclass
class Diagnostics(Event):
    """Mechanisms on the fixed probe batch at one iteration, per member and layer."""

    kind: ClassVar[str] = "diagnostics"
    stored_as: ClassVar[dict[str, Any]] = {"members": list[MemberDiagnostics | None]}
    iteration: int
    # members[m] is None for a diverged member, else a dict with
    #   layers: list (input side first) of {grad_norm, saturated_fraction, dead_fraction,
    #           activation_mean, activation_std, preact_hist}
    #   clipping: {clipped_fraction, preclip_norm, preclip_norm_max} or None without clipping
    members: list[dict[str, Any] | None]
    hist_edges: list[float] = field(default_factory=list)  # bin edges of preact_hist


@dataclass
class MemberDiverged(Event):
    """A member's loss became NaN or Inf: it is frozen, the others go on."""

    kind: ClassVar[str] = "member_diverged"
    member: int
    activation: str
    iteration: int


@dataclass
class EpochFinished(Event):
    """An epoch is done (or cut short: `iterations` below a full epoch); `seconds` is its
    training time, evaluation and diagnostics excluded."""

    kind: ClassVar[str] = "epoch_finished"
    epoch: int
    iteration: int
    iterations: int
    seconds: float
    eval_seconds: float
    threads: int | None = None  # CPU threads the tuner had chosen at the epoch's end (None: not tuned)


@dataclass
class MemberCosts(Event):
    """What one epoch of each member alone costs: short timed passes of one-member cohorts
    at the run's shapes on its device, interleaved across members (`member_costs.time_alone`)."""

    kind: ClassVar[str] = "member_costs"
    epoch_time_alone_s: list[float | None]  # per member
    reference: str  # relu: the cost column is relative to it
    reference_epoch_time_alone_s: float | None
    steps: int  # timed steps per member, in all
    rounds: int  # interleaved rounds they came in; the fastest round counts
    seconds: float  # what measuring took (kept out of epoch time)


@dataclass
class RunFinished(Event):
    """The comparison ended: done, stopped by the user, or failed with an error."""

    kind: ClassVar[str] = "run_finished"
    status: str  # done | stopped | error
    iteration: int
    elapsed_s: float
    error: str | None = None


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        RunStarted,
        Progress,
        Evaluation,
        Diagnostics,
        MemberDiverged,
        EpochFinished,
        MemberCosts,
        RunFinished,
    )
}

Listener = Callable[[Event], None]


def from_dict(d: Any) -> Event:
    """The event a stored JSON object describes; EventError names the first bad field.

    Every field is checked against its type (the dataclass annotations, refined by
    `stored_as`); fields this version does not know are ignored."""
    if not isinstance(d, dict):
        raise EventError(f"expected a JSON object, got {_kind_of(d)}")
    kind = d.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise EventError(f"unknown event type {_short(kind)}; known: {', '.join(EVENT_TYPES)}")
    values = {}
    for f, expected in _schema(cls):
        if f.name not in d:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise EventError(f"{kind}: missing field {f.name!r}")
            continue
        problem = _mismatch(d[f.name], expected, f.name)
        if problem:
            raise EventError(f"{kind}: {problem}")
        values[f.name] = d[f.name]
    return cls(**values)


_SCHEMAS: dict[type[Event], list[tuple[dataclasses.Field[Any], Any]]] = {}


def _schema(cls: type[Event]) -> list[tuple[dataclasses.Field[Any], Any]]:
    if cls not in _SCHEMAS:
        hints = typing.get_type_hints(cls)
        _SCHEMAS[cls] = [(f, cls.stored_as.get(f.name, hints[f.name])) for f in dataclasses.fields(cls)]
    return _SCHEMAS[cls]
