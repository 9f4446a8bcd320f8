"""The event stream: what a comparison reports, as plain dataclasses.

The engine calls one listener with these; the batch progress display, the results writer
and the TUI all listen to the same stream. Each event turns into one JSON object with a
"type" field (`to_dict`) and back (`from_dict`), which is how `events.jsonl` stores a run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, NotRequired, TypedDict

from .schema import hints as _hints
from .schema import kind_of as _kind_of
from .schema import mismatch as _mismatch
from .schema import short as _short


class EventError(ValueError):
    """A stored object is not a valid event; the message is one line naming the field."""


# The dicts inside events. A reader checks a stored event against its fields' annotations,
# these TypedDicts included (`schema.load`).


class DatasetInfo(TypedDict):
    """The data a run trained on (`data.Dataset.info`)."""

    name: str
    source: str
    train_size: int  # what training used: the validation split is not in it
    test_size: int
    notice: str | None
    validation_size: NotRequired[int]  # 0: none; missing (an older actlab): not measured
    validation_seed: NotRequired[int]


class StoredConfig(TypedDict):
    """The settings a reader of a stored run relies on (the rest are passed through)."""

    activations: list[str]
    thresholds: list[float]
    epochs: int


class _Settings(TypedDict, total=False):
    """RunConfig's settings beyond StoredConfig's, by name, as JSON holds them."""

    depth: int
    width: int
    optimizer: str
    lr: float
    momentum: float
    batch_size: int
    max_iterations: int | None
    init: str
    sigma_w2: float
    sigma_b2: float
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
    validation: float | None
    validation_seed: int
    dataset: str
    data_dir: str | None
    cache_dir: str | None
    fallback: bool
    device: str


class ConfigDict(StoredConfig, _Settings):
    """A run's settings as stored (`RunConfig.to_dict`, config.json, a summary's `config`).
    Runs written by an older actlab may lack some; a reader takes what is there."""


class PartialConfig(_Settings, total=False):
    """Some of a run's settings (a preset's): RunConfig's defaults stand for the others."""

    activations: list[str]
    thresholds: list[float]
    epochs: int


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
    """One hidden layer of one member on the probe batch (`diagnostics.probe`); None where a
    figure does not apply (saturation of a non-saturating activation) or was not finite."""

    saturated_fraction: float | None
    dead_fraction: float | None
    activation_mean: float | None
    activation_std: float | None
    preact_hist: list[float]  # share of the pre-activations per bin of the event's hist_edges
    grad_norm: float | None  # of the weights feeding the layer
    # the root mean square over the probe batch of each sample's own gradient of those weights
    # (missing in runs of an older actlab)
    sample_grad_norm: NotRequired[float | None]


class ClippingDiagnostics(TypedDict):
    """What clipping did since the previous diagnostics, and over the run so far."""

    clipped_fraction: float
    clipped_fraction_total: float
    preclip_norm: float
    preclip_norm_max: float
    threshold: float


class _LearnedDiagnostics(TypedDict, total=False):
    prelu_slopes: list[float | None]  # a prelu member's learned slope per hidden layer


class MemberDiagnostics(_LearnedDiagnostics):
    """One live member's diagnostics: its hidden layers, input side first."""

    layers: list[LayerDiagnostics]
    output_grad_norm: float | None
    clipping: NotRequired[ClippingDiagnostics | None]  # None: the run does not clip


class ActivationDescription(TypedDict):
    """A custom activation as plain data (`custom.describe`): what it measured on [-50, 50],
    its curves sampled on [-6, 6], and what the UI shows beside them. The app's process
    draws and describes the function from this alone (`activation_lookup.from_description`),
    without PyTorch or the user's code."""

    name: str  # the canonical member spec
    max_derivative: float
    output_range: str  # as the registry writes it: "(-inf, inf)", "[0, 1)"...
    zero_centred: bool
    saturating: bool
    can_die: bool
    monotone: NotRequired[bool]
    z: list[float]
    f: list[float]  # f(z)
    df: list[float]  # f'(z)
    formula: NotRequired[str]  # the docstring's first line, else the spec's target
    note: NotRequired[str]
    cost: NotRequired[str]
    recommended_init: NotRequired[str]  # written by nobody yet; kaiming_uniform when absent


@dataclass
class Event:
    kind: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, object]:
        """The event as one JSON object, its fields in order after "type"."""
        return {"type": self.kind, **dataclasses.asdict(self)}


@dataclass
class RunStarted(Event):
    """A comparison begins: its settings, data, device and cadence."""

    kind: ClassVar[str] = "run_started"
    config: ConfigDict
    members: list[str]  # activation of each member, in order
    baseline: str
    dataset: DatasetInfo
    device: str
    eval_every: int
    diagnostics_every: int
    iterations_per_epoch: int
    total_iterations: int
    layer_sizes: list[int] = field(default_factory=list)  # input, hidden..., output
    # custom members' measured properties and curves (`custom.describe`), so that a reader
    # without PyTorch or the user's code can show them
    custom_activations: list[ActivationDescription] = field(default_factory=list)
    # None: the members are the comparison's activations, trained alone. Else they were
    # trained in a larger cohort (seeds stacked, a sweep's learning rates...): its size, and
    # each member's own settings (`member_settings`, in the stream of the whole cohort only).
    # Epoch times are then the whole cohort's.
    cohort: CohortInfo | None = None
    # the mean of x^2 over the probe batch: the first layer's input, where mean-field theory
    # starts (None: a run of an older actlab)
    input_mean_square: float | None = None


@dataclass
class Progress(Event):
    """Training goes on (a few per second at most); not stored in events.jsonl."""

    kind: ClassVar[str] = "progress"
    iteration: int
    epoch: int
    elapsed_s: float


@dataclass
class Evaluation(Event):
    """Test accuracy and loss of every member at one iteration (None: member diverged), and
    the same on the validation split where the run has one."""

    kind: ClassVar[str] = "evaluation"
    iteration: int
    epoch: int  # 1-based epoch the iteration belongs to
    accuracy: list[float | None]
    test_loss: list[float | None]
    train_loss: list[float | None]  # mean training loss since the previous evaluation
    val_accuracy: list[float | None] | None = None  # None: no validation split
    val_loss: list[float | None] | None = None

    def to_dict(self) -> dict[str, object]:
        d = super().to_dict()
        for name in ("val_accuracy", "val_loss"):  # a run without a validation split: as before
            if d[name] is None:
                del d[name]
        return d


@dataclass
class Diagnostics(Event):
    """Mechanisms on the fixed probe batch at one iteration, per member and layer."""

    kind: ClassVar[str] = "diagnostics"
    iteration: int
    members: list[MemberDiagnostics | None]  # None: a diverged member
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


def from_dict(d: object) -> Event:
    """The event a stored JSON object describes; EventError names the first bad field.

    Every field is checked against its annotation, the TypedDicts inside included; fields
    this version does not know are ignored."""
    if not isinstance(d, dict):
        raise EventError(f"expected a JSON object, got {_kind_of(d)}")
    kind = d.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise EventError(f"unknown event type {_short(kind)}; known: {', '.join(EVENT_TYPES)}")
    values = {}
    types = _hints(cls)
    for f in dataclasses.fields(cls):
        if f.name not in d:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise EventError(f"{kind}: missing field {f.name!r}")
            continue
        problem = _mismatch(d[f.name], types[f.name], f.name)
        if problem:
            raise EventError(f"{kind}: {problem}")
        values[f.name] = d[f.name]
    return cls(**values)
