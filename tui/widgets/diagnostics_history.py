"""The diagnostics of a run, kept over iterations for the views to draw.

Plain Python, no Textual: the views (and tests) feed it every engine event, in order, and
read series out of it. Feeding is idempotent per event, so one history can be shared by
several views that are each fed the same stream. Each member keeps a bounded number of
diagnostics points, evenly spaced and the latest among them (`thinned.Thinning`): the charts
draw a few hundred at most, and a run followed for hours holds no more than one of minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from actlab.engine.activation_lookup import remember
from actlab.engine.events import (
    Diagnostics,
    Event,
    LayerDiagnostics,
    MemberCosts,
    MemberDiverged,
    RunFinished,
    RunStarted,
)

from .thinned import Thinning

# The figures stored per hidden layer, as the engine names them (LayerDiagnostics' keys).
LayerField = Literal["grad_norm", "saturated_fraction", "dead_fraction", "activation_mean", "activation_std"]
LAYER_FIELDS: tuple[LayerField, ...] = get_args(LayerField)
# The figures stored per clipping report (ClippingDiagnostics' keys).
ClipField = Literal["clipped_fraction", "clipped_fraction_total", "preclip_norm", "preclip_norm_max"]
CLIP_FIELDS: tuple[ClipField, ...] = get_args(ClipField)
# Diagnostics points a member keeps at most (about): a point holds five figures per layer and
# six more, and the diagnostics charts are narrower than the screen.
DIAGNOSTICS_CAP = 1024


@dataclass
class LayerHistory:
    """One hidden layer of one member: a value (or None) per diagnostics point."""

    series: dict[str, list[float | None]] = field(default_factory=lambda: {f: [] for f in LAYER_FIELDS})
    preact_hist: list[float] = field(default_factory=list)  # latest histogram only


@dataclass
class MemberHistory:
    """One member: its iterations and, aligned with them, per-layer and clipping figures."""

    index: int
    activation: str
    iterations: list[int] = field(default_factory=list)
    layers: list[LayerHistory] = field(default_factory=list)
    output_grad_norm: list[float | None] = field(default_factory=list)
    clipping: dict[str, list[float | None]] = field(default_factory=lambda: {f: [] for f in CLIP_FIELDS})
    clip_threshold: float | None = None
    diverged_at: int | None = None
    epoch_time_alone_s: float | None = None
    cost_vs_relu: float | None = None  # its epoch alone against relu's, from the run
    prelu_slopes: list[float | None] | None = None  # latest learned slopes (prelu)
    thinning: Thinning = field(default_factory=lambda: Thinning(DIAGNOSTICS_CAP), compare=False, repr=False)

    def columns(self) -> list[list[Any]]:
        """Every list aligned with `iterations`, itself included."""
        return [
            self.iterations,
            *(values for lh in self.layers for values in lh.series.values()),
            self.output_grad_norm,
            *self.clipping.values(),
        ]

    @property
    def depth(self) -> int:
        return len(self.layers)

    def latest(self, layer: int, name: str) -> float | None:
        values = self.layers[layer].series[name] if layer < len(self.layers) else []
        return values[-1] if values else None

    def latest_profile(self, name: str = "grad_norm") -> list[float | None]:
        """`name` at the latest diagnostics point, layer 1 first (empty before any)."""
        return [self.latest(i, name) for i in range(self.depth)]


class DiagnosticsHistory:
    """Per member and hidden layer: the diagnostics over iterations, fed event by event."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.run: RunStarted | None = None
        self.members: list[MemberHistory] = []
        self.iterations: list[int] = []  # the diagnostics points of the run (thinned, latest kept)
        self.thinning = Thinning(DIAGNOSTICS_CAP)
        self.hist_edges: list[float] = []
        self.status: str | None = None  # set by RunFinished: done | stopped | error
        # bumped on every change, so a view can tell whether it has anything new to draw
        self.version = 0

    # -- what the run is -------------------------------------------------------------

    @property
    def activations(self) -> list[str]:
        return [m.activation for m in self.members]

    @property
    def depth(self) -> int:
        """Hidden layers: from the run's layer sizes, else from the diagnostics seen."""
        if self.run is not None and len(self.run.layer_sizes) >= 2:
            return len(self.run.layer_sizes) - 2
        if self.run is not None and "depth" in self.run.config:
            return int(self.run.config["depth"])
        return max((m.depth for m in self.members), default=0)

    @property
    def clip(self) -> str | None:
        """The clipping mode ("l2", "value", ...), None when clipping is off or unknown."""
        mode = self.run.config.get("clip") if self.run is not None else None
        return None if mode in (None, "none") else str(mode)

    @property
    def clip_threshold(self) -> float | None:
        if self.clip is None or self.run is None:
            return None
        value = self.run.config.get("clip_threshold")
        return None if value is None else float(value)

    @property
    def latest_iteration(self) -> int | None:
        return self.iterations[-1] if self.iterations else None

    def member(self, index: int) -> MemberHistory:
        return self.members[index]

    def series(self, member: int, layer: int, name: str) -> tuple[list[int], list[float | None]]:
        """(iterations, values) of one figure of one layer of one member."""
        m = self.members[member]
        return m.iterations, m.layers[layer].series[name]

    def clip_series(self, member: int, name: str) -> tuple[list[int], list[float | None]]:
        m = self.members[member]
        return m.iterations, m.clipping[name]

    # -- feeding -----------------------------------------------------------------------

    def feed(self, event: Event) -> bool:
        """Take one engine event; return whether the history changed."""
        if isinstance(event, RunStarted):
            if event is self.run:
                return False  # the same event fed again by another view sharing this history
            self.reset()
            self.run = event
            for description in event.custom_activations:
                try:
                    remember(description)  # the views draw and describe custom members from these
                except (KeyError, TypeError, ValueError):
                    pass  # a damaged description: that member is shown without its curves
            # every member gets its layers now, so one that diverges before the first probe
            # still has a (blank) per-layer profile of the run's depth
            self.members = [
                MemberHistory(i, name, layers=[LayerHistory() for _ in range(self.depth)])
                for i, name in enumerate(event.members)
            ]
        elif isinstance(event, Diagnostics):
            if self.iterations and event.iteration <= self.iterations[-1]:
                return False  # already have this point (shared history, or a repeated replay)
            self._add_diagnostics(event)
        elif isinstance(event, MemberCosts):
            self._ensure_members(len(event.epoch_time_alone_s))
            ref = event.reference_epoch_time_alone_s
            for m, alone in zip(self.members, event.epoch_time_alone_s, strict=False):
                m.epoch_time_alone_s = alone
                m.cost_vs_relu = alone / ref if alone is not None and ref else None
        elif isinstance(event, MemberDiverged):
            self._ensure_members(event.member + 1)
            m = self.members[event.member]
            if m.diverged_at is not None:
                return False
            m.diverged_at = event.iteration
        elif isinstance(event, RunFinished):
            if self.status == event.status:
                return False
            self.status = event.status
        else:
            return False  # evaluations, progress and epochs carry no diagnostics
        self.version += 1
        return True

    def _ensure_members(self, count: int) -> None:
        # A stream joined without its RunStarted still shows something; names are guesses.
        while len(self.members) < count:
            self.members.append(MemberHistory(len(self.members), f"member {len(self.members) + 1}"))

    def _add_diagnostics(self, event: Diagnostics) -> None:
        self._ensure_members(len(event.members))
        self.thinning.before([self.iterations])
        self.iterations.append(event.iteration)
        self.thinning.after([self.iterations])
        if event.hist_edges:
            self.hist_edges = list(event.hist_edges)
        for m, report in zip(self.members, event.members, strict=False):
            if report is None:
                continue  # diverged: its history simply stops
            layers = report.get("layers") or []
            m.thinning.before(m.columns())  # the latest point may make room for this one
            while len(m.layers) < len(layers):
                # a layer first seen late gets Nones for the earlier points, to stay aligned
                lh = LayerHistory()
                for values in lh.series.values():
                    values.extend([None] * len(m.iterations))
                m.layers.append(lh)
            m.iterations.append(event.iteration)
            for i, lh in enumerate(m.layers):
                stats: LayerDiagnostics | None = layers[i] if i < len(layers) else None
                for name in LAYER_FIELDS:
                    lh.series[name].append(_float(stats.get(name)) if stats else None)
                hist = stats.get("preact_hist") if stats else None
                if hist:
                    lh.preact_hist = [float(v) for v in hist]
            m.output_grad_norm.append(_float(report.get("output_grad_norm")))
            if report.get("prelu_slopes") is not None:
                m.prelu_slopes = [_float(v) for v in report["prelu_slopes"]]
            clipping = report.get("clipping")
            for figure in CLIP_FIELDS:
                m.clipping[figure].append(_float(clipping.get(figure)) if clipping else None)
            if clipping and clipping.get("threshold") is not None:
                m.clip_threshold = float(clipping["threshold"])
            m.thinning.after(m.columns())


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)  # JSON's whole numbers are ints
