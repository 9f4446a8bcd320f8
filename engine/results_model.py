"""The typed results model: what a run, a seeds run, a sweep and a comparison sum up to.

Beside the events (`events.py`), these are what the results files hold: a run's summary
(summary.json, `--format json`), the aggregate over seeds (aggregate.json), a sweep's results
(sweep-results.json) and a comparison (`compare --format json`). Plain dataclasses, no PyTorch:
`to_json()` gives the stored JSON (field order is the files' key order), `from_json(value,
where)` reads one back through the one validator (`schema.load`), so a damaged file is one
SchemaError naming the place rather than a KeyError somewhere in a reader. Fields that files
written by an older actlab lack have defaults: old runs still read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

from .events import CohortInfo, ConfigDict, DatasetInfo, MemberDiagnostics, SettingValue
from .schema import OMIT_NONE, dump, load_as

SUMMARY_VERSION = 1

JsonObject = dict[str, object]  # what `to_json` gives: json.dumps-ready


class Stored:
    """`to_json`/`from_json` for the model's dataclasses."""

    def to_json(self) -> JsonObject:
        data: JsonObject = dump(self)
        return data

    @classmethod
    def from_json(cls, value: object, where: str = "") -> Self:
        return load_as(cls, value, where)


# ------------------------------------------------------------------------------ one run


@dataclass
class Crossing(Stored):
    """One member at one accuracy threshold: the first evaluated iteration at or above it,
    the sustained crossing (from which every later evaluation stays there), and the speedup
    against the baseline on the sustained crossing (None when either did not reach it)."""

    threshold: float
    first: int | None
    sustained: int | None
    speedup: float | None = None


@dataclass
class MemberSummary(Stored):
    activation: str  # its canonical spec
    status: str  # training | done | diverged | stopped | interrupted
    diverged_at: int | None = None
    final_accuracy: float | None = None  # mean test accuracy over the last epoch's evaluations
    last_accuracy: float | None = None
    epoch_time_s: float | None = None  # the lockstep epoch, the same for every member
    epoch_time_alone_s: float | None = None
    cost_vs_relu: float | None = None
    prelu_slopes: list[float | None] | None = None
    thresholds: list[Crossing] = field(default_factory=list)
    diagnostics: MemberDiagnostics | None = None


@dataclass
class CostMeasurement(Stored):
    """How each member's epoch alone was timed."""

    reference: str
    reference_epoch_time_alone_s: float | None
    steps: int
    rounds: int
    seconds: float | None


@dataclass
class Summary(Stored):
    """A run summed up (summary.json): its settings, data, what ran, and per member the
    iterations-to-threshold figures, final accuracy, cost and diagnostics at the end."""

    version: int = SUMMARY_VERSION
    status: str = "running"  # running | done | stopped | error | interrupted
    error: str | None = None
    config: ConfigDict | None = None
    dataset: DatasetInfo | None = None
    device: str | None = None
    eval_every: int | None = None
    diagnostics_every: int | None = None
    baseline: str | None = None
    cohort: CohortInfo | None = None
    iterations_per_epoch: int | None = None
    iterations: int = 0
    epochs_completed: int = 0
    elapsed_s: float | None = None
    epoch_time_s: float | None = None
    eval_time_s: float | None = None
    cost_measurement: CostMeasurement | None = None
    members: list[MemberSummary] = field(default_factory=list)

    @property
    def seed(self) -> int | None:
        return None if self.config is None else self.config.get("seed")

    @property
    def thresholds(self) -> list[float]:
        """The thresholds tracked, in order."""
        return [t.threshold for t in self.members[0].thresholds] if self.members else []

    def is_baseline(self, member: MemberSummary) -> bool:
        return member.activation == self.baseline


# ------------------------------------------------------------------------------ seeds


@dataclass
class SeedPair(Stored):
    """One seed of a paired comparison: each side's sustained crossing and their ratio."""

    seed: int | None
    baseline: int | None
    member: int | None
    ratio: float | None


@dataclass
class PairedSpeedup(Stored):
    """A member against the baseline at one threshold over paired seeds: how many seeds went
    which way, the geometric mean of the per-seed ratios with its 95% interval, and a sentence."""

    baseline: str
    seeds: int
    faster: int
    slower: int
    tie: int
    neither: int
    only_member_reached: int
    only_baseline_reached: int
    paired: int
    ratio_mean: float | None
    ratio_low: float | None
    ratio_high: float | None
    clear: bool | None
    per_seed: list[SeedPair] = field(default_factory=list)
    statement: str = ""


@dataclass
class AggregateCrossing(Stored):
    threshold: float
    sustained_mean: float | None
    sustained_std: float | None
    reached: int  # how many seeds reached it
    vs_baseline: PairedSpeedup | None = None  # None for the baseline itself


@dataclass
class AggregateMember(Stored):
    activation: str
    final_accuracy_mean: float | None
    final_accuracy_std: float | None
    diverged: int  # in how many seeds
    thresholds: list[AggregateCrossing] = field(default_factory=list)


@dataclass
class Interval(Stored):
    level: float
    method: str


@dataclass
class Aggregate(Stored):
    """One comparison repeated over seeds (aggregate.json): mean and spread per member."""

    seeds: list[int | None]
    runs: int
    baseline: str | None
    interval: Interval
    members: list[AggregateMember] = field(default_factory=list)


# ------------------------------------------------------------------------------ sweeps


@dataclass
class PointResult(Stored):
    """A sweep's point: its axis values, its job, and the aggregate over its seeds (None
    until every seed of the point is done)."""

    name: str
    values: dict[str, SettingValue]
    job: int
    complete: bool
    aggregate: Aggregate | None = None


# a reached cell names its runner-up, null when no one else reached it; other cells leave it out
RUNNER_UP = {"omit_none": lambda cell: cell.state != "reached"}


@dataclass
class HeatmapCell(Stored):
    point: str
    state: str  # reached | none (no one reached the threshold) | unfinished
    winner: str | None
    iterations: float | None
    runner_up: str | None = field(default=None, metadata=RUNNER_UP)
    runner_up_iterations: float | None = field(default=None, metadata=RUNNER_UP)


@dataclass
class HeatmapRow(Stored):
    values: dict[str, SettingValue]  # the row axes' values
    cells: list[HeatmapCell] = field(default_factory=list)


@dataclass
class Heatmap(Stored):
    """Which activation wins where: the fewest iterations to one threshold at each point."""

    threshold: float | None
    row_axes: list[str]
    column_axis: str
    columns: list[SettingValue]
    rows: list[HeatmapRow] = field(default_factory=list)


@dataclass
class BestLr(Stored):
    """An activation at its own best learning rate beside the shared one, for one
    combination of the other axes."""

    values: dict[str, SettingValue]
    activation: str
    best_lr: float
    threshold: float | None
    iterations: float | None
    final_accuracy: float | None
    shared_lr: float
    shared_iterations: float | None
    shared_final_accuracy: float | None


@dataclass
class SweepResults(Stored):
    """A sweep summed up (sweep-results.json): every point over its seeds, the heatmap, and
    the best-lr view."""

    version: int
    axes: list[tuple[str, list[SettingValue]]]
    seeds: list[int]
    activations: list[str]
    baseline: str
    thresholds: list[float]
    complete: bool
    points: list[PointResult] = field(default_factory=list)
    heatmap: Heatmap | None = None
    best_lr: list[BestLr] | None = None


# ------------------------------------------------------------------------------ comparison


@dataclass
class ComparedRun(Stored):
    label: str
    directory: str
    summary: Summary


@dataclass
class Comparison(Stored):
    """Saved runs side by side (`compare --format json`): each run's summary, the settings
    that differ between them (setting -> its value in each run), and, for one sweep, seeds or
    point directory given alone, its sweep results or its aggregate over the finished seeds."""

    runs: list[ComparedRun]
    differences: dict[str, list[object]]  # a setting -> its value in each run (any JSON value)
    sweep: SweepResults | None = field(default=None, metadata=OMIT_NONE)
    aggregate: Aggregate | None = field(default=None, metadata=OMIT_NONE)
    # not stored as such: a seeds or point directory's comparison writes "aggregate" even
    # when no seed has finished (null); any other leaves it out
    over_seeds: bool = False

    def to_json(self) -> JsonObject:
        data = super().to_json()
        del data["over_seeds"]
        if self.over_seeds and "aggregate" not in data:
            data["aggregate"] = None
        return data

    @classmethod
    def from_json(cls, value: object, where: str = "") -> Self:
        comparison = super().from_json(value, where)
        comparison.over_seeds = isinstance(value, dict) and "aggregate" in value
        return comparison
