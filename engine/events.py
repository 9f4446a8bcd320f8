"""The event stream: what a comparison reports, as plain dataclasses.

The engine calls one listener with these; the batch progress display, the results writer
and the TUI all listen to the same stream. Each event turns into one JSON object with a
"type" field (`to_dict`) and back (`from_dict`), which is how `events.jsonl` stores a run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass
class Event:
    kind: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, **dataclasses.asdict(self)}


@dataclass
class RunStarted(Event):
    """A comparison begins: its settings, data, device and cadence."""

    kind: ClassVar[str] = "run_started"
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
    for cls in (RunStarted, Progress, Evaluation, Diagnostics, MemberDiverged, EpochFinished, RunFinished)
}

Listener = Callable[[Event], None]


def from_dict(d: dict[str, Any]) -> Event:
    d = dict(d)
    kind = d.pop("type", None)
    cls = EVENT_TYPES.get(str(kind))
    if cls is None:
        raise ValueError(f"unknown event type {kind!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})
