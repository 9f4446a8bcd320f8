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
    # on the validation split, where the run has one (left out of the file where it has none)
    val_final_accuracy: float | None = field(default=None, metadata=OMIT_NONE)
    val_thresholds: list[Crossing] | None = field(default=None, metadata=OMIT_NONE)


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

    @property
    def validation_size(self) -> int | None:
        """Images in the run's validation split: 0 for none, None when not recorded (a run
        of an older actlab: not measured)."""
        return None if self.dataset is None else self.dataset.get("validation_size")

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
    ratio_low: float | None  # the 95% t interval
    ratio_high: float | None
    clear: bool | None  # Holm's adjustment over the comparison's paired tests rejects a tie
    per_seed: list[SeedPair] = field(default_factory=list)
    statement: str = ""
    adjusted_low: float | None = None  # the interval at the level Holm tested it at
    adjusted_high: float | None = None


@dataclass
class AggregateCrossing(Stored):
    threshold: float
    sustained_mean: float | None
    sustained_std: float | None
    reached: int  # how many seeds reached it
    vs_baseline: PairedSpeedup | None = None  # None for the baseline itself
    # the same on the validation split; None: not measured (a seed without one)
    val_sustained_mean: float | None = field(default=None, metadata=OMIT_NONE)
    val_reached: int | None = field(default=None, metadata=OMIT_NONE)


@dataclass
class AggregateMember(Stored):
    activation: str
    final_accuracy_mean: float | None
    final_accuracy_std: float | None
    diverged: int  # in how many seeds
    thresholds: list[AggregateCrossing] = field(default_factory=list)
    val_final_accuracy_mean: float | None = field(default=None, metadata=OMIT_NONE)
    val_final_accuracy_std: float | None = field(default=None, metadata=OMIT_NONE)


@dataclass
class Interval(Stored):
    level: float
    method: str
    adjustment: str = ""  # for multiple comparisons, over every pair and measure


@dataclass
class PairTest(Stored):
    """Two contenders on one measure, paired by seed: a threshold (`threshold`; the ratio of
    a's sustained crossing to b's, > 1 when b is faster) or the final accuracy (`threshold`
    None; b's minus a's). `estimate` is the geometric mean ratio (or the mean difference) over
    the `paired` seeds where both have a figure, `low`..`high` its 95% t interval, and
    `adjusted_low`..`adjusted_high` the t interval at the level Holm's step-down tested it at
    (`level`), so `clear` (Holm rejects no difference) is that interval excluding 1 (or 0).
    `improvement` is P(b beats a) over every pair of their seeds' runs (rliable's probability
    of improvement; a threshold not reached loses to any reached), with a 95% bootstrap
    interval; `effect_size` the paired d (mean over sd of the per-seed logs or differences);
    `seeds_to_decide` roughly how many paired seeds would decide it at the observed spread,
    for a test not clear (None: more than a thousand, or no difference at all)."""

    threshold: float | None
    seeds: int
    paired: int
    a_reached: int | None = None  # a threshold: in how many seeds each reached it
    b_reached: int | None = None
    estimate: float | None = None
    low: float | None = None
    high: float | None = None
    adjusted_low: float | None = None
    adjusted_high: float | None = None
    p_value: float | None = None
    p_holm: float | None = None
    level: float | None = None
    clear: bool | None = None  # None: not tested (fewer than two paired seeds)
    improvement: float | None = None
    improvement_low: float | None = None
    improvement_high: float | None = None
    effect_size: float | None = None
    seeds_to_decide: int | None = None

    @property
    def measure(self) -> str:
        return "final accuracy" if self.threshold is None else f"{self.threshold:g}"


@dataclass
class PairComparison(Stored):
    """Every measure of one pair of contenders (b against a)."""

    a: str
    b: str
    thresholds: list[PairTest] = field(default_factory=list)
    final: PairTest | None = None

    @property
    def tests(self) -> list[PairTest]:
        return [*self.thresholds, *([self.final] if self.final is not None else [])]

    @property
    def name(self) -> str:
        return f"{self.b} vs {self.a}"


@dataclass
class Verdict(Stored):
    """What a seeds or sweep result concluded, in words generated from its figures (`text`),
    with the parts a reader or a test may want alone."""

    text: str
    recommended: str | None  # None: nothing to recommend (nothing finished)
    chosen_on: str  # validation | test (no validation split was measured)
    threshold: float | None  # the threshold the choice was made at; None: by final accuracy
    undecided: list[str] = field(default_factory=list)  # "relu vs tanh: final accuracy"
    closest: str | None = None  # the undecided test nearest to being decided
    seeds_to_decide: int | None = None
    sentences: list[str] = field(default_factory=list)  # `text`, sentence by sentence


@dataclass
class Aggregate(Stored):
    """One comparison repeated over seeds (aggregate.json): mean and spread per member, every
    pair of members paired by seed, and the verdict."""

    seeds: list[int | None]
    runs: int
    baseline: str | None
    interval: Interval
    members: list[AggregateMember] = field(default_factory=list)
    # images in the validation split (the same in every seed); None: not measured in some seed
    validation_size: int | None = None
    pairs: list[PairComparison] = field(default_factory=list)
    tests: int = 0  # paired tests in the family Holm's adjustment is over
    verdict: Verdict | None = None


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
    chosen_on: str = "test"  # where the threshold and the winners were chosen; cells show test


@dataclass
class BestLr(Stored):
    """An activation at its own best learning rate beside the shared one, for one
    combination of the other axes: chosen on `chosen_on` (validation, or test for a sweep
    trained without a validation split), the figures reported on test."""

    values: dict[str, SettingValue]
    activation: str
    best_lr: float
    threshold: float | None
    iterations: float | None
    final_accuracy: float | None
    shared_lr: float
    shared_iterations: float | None
    shared_final_accuracy: float | None
    chosen_on: str = "test"


@dataclass
class BestPoint(Stored):
    """An activation at the point of the sweep where it does best (chosen on `chosen_on`)."""

    activation: str
    point: str
    values: dict[str, SettingValue]
    chosen_on: str


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
    # each activation at its own best point (chosen on validation), paired by seed, and the
    # verdict over them
    best_points: list[BestPoint] = field(default_factory=list)
    pairs: list[PairComparison] = field(default_factory=list)
    tests: int = 0
    verdict: Verdict | None = None


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
