"""Threshold crossings and the run summary, computed from the event stream alone.

The same `SummaryBuilder` serves the engine (the summary of a live run), the results writer
(summary.json), the TUI table and a replayed run, so every view agrees by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .events import (
    Diagnostics,
    EpochFinished,
    Evaluation,
    Event,
    MemberCosts,
    MemberDiagnostics,
    MemberDiverged,
    RunFinished,
    RunStarted,
)
from .pairs import HOLM_NOTE, INTERVAL_METHOD, compare_all, find, member_runs, oriented, paired_speedup
from .results_model import (
    SUMMARY_VERSION,
    Aggregate,
    AggregateCrossing,
    AggregateMember,
    CostMeasurement,
    Crossing,
    Interval,
    MemberSummary,
    Summary,
)
from .verdict import split_of, standing, verdict


@dataclass
class ThresholdTracker:
    """First and sustained crossing of one accuracy threshold by one member.

    first: the first evaluated iteration with accuracy >= threshold.
    sustained: the first evaluated iteration from which every later evaluation stays
    >= threshold (provisional while the run goes on: a later dip clears it).
    """

    threshold: float
    first: int | None = None
    sustained: int | None = None

    def update(self, iteration: int, accuracy: float) -> None:
        if accuracy >= self.threshold:
            if self.first is None:
                self.first = iteration
            if self.sustained is None:
                self.sustained = iteration
        else:
            self.sustained = None


@dataclass
class MemberRecord:
    activation: str
    trackers: list[ThresholdTracker]
    status: str = "training"  # training | done | diverged | stopped | interrupted
    diverged_at: int | None = None
    last_accuracy: float | None = None
    # the latest epoch evaluated, and its evaluations' accuracies summed and counted: all the
    # final accuracy needs, kept in constant space (a followed run may go on for hours)
    final_epoch: int = 0
    final_sum: float = 0.0
    final_count: int = 0
    diagnostics: MemberDiagnostics | None = None
    epoch_time_alone_s: float | None = None
    validation: ValidationRecord | None = None  # None: the run has no validation split


@dataclass
class ValidationRecord:
    """A member's crossings and final accuracy on the validation split."""

    trackers: list[ThresholdTracker]
    final_epoch: int = 0
    final_sum: float = 0.0
    final_count: int = 0

    def update(self, epoch: int, iteration: int, accuracy: float) -> None:
        if epoch > self.final_epoch:
            self.final_epoch, self.final_sum, self.final_count = epoch, 0.0, 0
        if epoch == self.final_epoch:
            self.final_sum += accuracy
            self.final_count += 1
        for tr in self.trackers:
            tr.update(iteration, accuracy)


class SummaryBuilder:
    """Feed it events; ask it for the summary (`results_model.Summary`) at any point."""

    def __init__(self) -> None:
        self.started: RunStarted | None = None
        self.members: list[MemberRecord] = []
        self.train_seconds = 0.0
        self.train_iterations = 0
        self.eval_seconds = 0.0
        self.iteration = 0
        self.status = "running"
        self.error: str | None = None
        self.elapsed_s: float | None = None
        self.last_epoch = 0
        self.costs: MemberCosts | None = None

    def feed(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            thresholds = [float(t) for t in event.config["thresholds"]]
            self.started = event
            self.members = [MemberRecord(a, [ThresholdTracker(t) for t in thresholds]) for a in event.members]
            if event.dataset.get("validation_size", 0) > 0:
                for rec in self.members:
                    rec.validation = ValidationRecord([ThresholdTracker(t) for t in thresholds])
        elif isinstance(event, Evaluation):
            self.iteration = max(self.iteration, event.iteration)
            val = event.val_accuracy or [None] * len(self.members)
            for rec, acc, vacc in zip(self.members, event.accuracy, val):
                if acc is None or rec.status == "diverged":
                    continue
                if rec.validation is not None and vacc is not None:
                    rec.validation.update(event.epoch, event.iteration, vacc)
                rec.last_accuracy = acc
                if event.epoch > rec.final_epoch:
                    rec.final_epoch, rec.final_sum, rec.final_count = event.epoch, 0.0, 0
                if event.epoch == rec.final_epoch:
                    rec.final_sum += acc
                    rec.final_count += 1
                for tr in rec.trackers:
                    tr.update(event.iteration, acc)
        elif isinstance(event, MemberDiverged):
            rec = self.members[event.member]
            rec.status = "diverged"
            rec.diverged_at = event.iteration
        elif isinstance(event, Diagnostics):
            for rec, diag in zip(self.members, event.members):
                if diag is not None:
                    rec.diagnostics = diag
        elif isinstance(event, MemberCosts):
            self.costs = event
            for rec, seconds in zip(self.members, event.epoch_time_alone_s):
                rec.epoch_time_alone_s = seconds
        elif isinstance(event, EpochFinished):
            self.train_seconds += event.seconds
            self.train_iterations += event.iterations
            self.eval_seconds += event.eval_seconds
            self.last_epoch = event.epoch
            self.iteration = max(self.iteration, event.iteration)
        elif isinstance(event, RunFinished):
            self.status = event.status
            self.error = event.error
            self.elapsed_s = event.elapsed_s
            self.iteration = max(self.iteration, event.iteration)
            final = "done" if event.status == "done" else "stopped"
            for rec in self.members:
                if rec.status == "training":
                    rec.status = final

    def end_of_stream(self) -> None:
        """A stored stream ended. Without run_finished the run was interrupted (killed, or
        the machine went down): its status and that of members still training say so."""
        if self.status == "running":
            self.status = "interrupted"
            for rec in self.members:
                if rec.status == "training":
                    rec.status = "interrupted"

    # ------------------------------------------------------------------ derived figures

    @property
    def baseline_index(self) -> int:
        if self.started is None:
            return 0
        return self.started.members.index(self.started.baseline)

    def final_accuracy(self, rec: MemberRecord) -> float | None:
        """Mean test accuracy over the evaluations of the last epoch the member reached."""
        if rec.status == "diverged" or not rec.final_count:
            return None
        return rec.final_sum / rec.final_count

    def val_final_accuracy(self, rec: MemberRecord) -> float | None:
        """The same on the validation split (None: none, or the member diverged)."""
        v = rec.validation
        if v is None or rec.status == "diverged" or not v.final_count:
            return None
        return v.final_sum / v.final_count

    def speedup(self, member: int, k: int) -> float | None:
        """Baseline's sustained crossing of threshold k divided by this member's."""
        if not self.members:
            return None
        base = self.members[self.baseline_index].trackers[k].sustained
        mine = self.members[member].trackers[k].sustained
        if base is None or mine is None:
            return None
        return base / mine

    def epoch_time(self) -> float | None:
        """Training seconds per epoch (evaluation excluded), from every iteration so far,
        so a run cut short mid-epoch still has a figure."""
        if not self.train_iterations or self.started is None:
            return None
        return self.train_seconds / self.train_iterations * self.started.iterations_per_epoch

    def relative_cost(self, rec: MemberRecord) -> float | None:
        """A member's epoch alone against relu's, measured alike in the same run."""
        ref = self.costs.reference_epoch_time_alone_s if self.costs is not None else None
        if ref is None or rec.epoch_time_alone_s is None or ref <= 0:
            return None
        return rec.epoch_time_alone_s / ref

    def summary(self) -> Summary:
        s = self.started
        epoch_time = _round(self.epoch_time(), 6)
        members = [
            MemberSummary(
                activation=rec.activation,
                status=rec.status,
                diverged_at=rec.diverged_at,
                final_accuracy=_round(self.final_accuracy(rec)),
                last_accuracy=_round(rec.last_accuracy),
                epoch_time_s=epoch_time,
                epoch_time_alone_s=_round(rec.epoch_time_alone_s, 6),
                cost_vs_relu=_round(self.relative_cost(rec), 3),
                prelu_slopes=None if rec.diagnostics is None else rec.diagnostics.get("prelu_slopes"),
                thresholds=[
                    Crossing(tr.threshold, tr.first, tr.sustained, _round(self.speedup(i, k), 3))
                    for k, tr in enumerate(rec.trackers)
                ],
                diagnostics=rec.diagnostics,
                val_final_accuracy=_round(self.val_final_accuracy(rec)),
                val_thresholds=None
                if rec.validation is None
                else [Crossing(tr.threshold, tr.first, tr.sustained) for tr in rec.validation.trackers],
            )
            for i, rec in enumerate(self.members)
        ]
        costs = self.costs
        return Summary(
            version=SUMMARY_VERSION,
            status=self.status,
            error=self.error,
            config=s.config if s else None,
            dataset=s.dataset if s else None,
            device=s.device if s else None,
            eval_every=s.eval_every if s else None,
            diagnostics_every=s.diagnostics_every if s else None,
            baseline=s.baseline if s else None,
            # trained in a larger cohort (seeds, sweep points): its size; epoch times are its
            cohort=s.cohort if s else None,
            iterations_per_epoch=s.iterations_per_epoch if s else None,
            iterations=self.iteration,
            epochs_completed=self.last_epoch,
            elapsed_s=_round(self.elapsed_s, 3),
            epoch_time_s=epoch_time,
            eval_time_s=_round(self.eval_seconds, 3),
            cost_measurement=None
            if costs is None
            else CostMeasurement(
                reference=costs.reference,
                reference_epoch_time_alone_s=_round(costs.reference_epoch_time_alone_s, 6),
                steps=costs.steps,
                rounds=costs.rounds,
                seconds=_round(costs.seconds, 4),
            ),
            members=members,
        )


def _round(x: float | None, digits: int = 5) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(x, digits)


def aggregate(summaries: list[Summary]) -> Aggregate:
    """Mean and spread over repeats of one comparison with different seeds.

    Per member: final accuracy mean/std, and per threshold the sustained crossing's mean/std
    over the seeds that reached it, with how many did, and (`vs_baseline`, None for the
    baseline itself) the paired per-seed speedup against the baseline with its 95% interval
    and a sentence saying it (`paired_speedup`). A difference smaller than the spread is not
    a win. Summaries that do not compare the same members at the same thresholds are refused
    (ValueError, see `comparable`)."""
    reason = comparable(summaries)
    if reason is not None:
        raise ValueError(reason)
    first = summaries[0]
    names = [m.activation for m in first.members]
    base = names.index(first.baseline) if first.baseline in names else None
    pairs, tests = compare_all([member_runs(summaries, i) for i in range(len(names))], first.thresholds)
    sizes = {s.validation_size for s in summaries}
    validation_size = sizes.pop() if len(sizes) == 1 else None  # seeds that disagree: not one split
    measured = bool(validation_size) and all(
        m.val_thresholds is not None for s in summaries for m in s.members
    )
    members = []
    for i, m in enumerate(first.members):
        runs = [s.members[i] for s in summaries]
        finals = [r.final_accuracy for r in runs if r.final_accuracy is not None]
        val_finals = [r.val_final_accuracy for r in runs if r.val_final_accuracy is not None]
        thresholds = []
        for k, t in enumerate(m.thresholds):
            reached = [h for r in runs if (h := r.thresholds[k].sustained) is not None]
            val_reached = [
                h for r in runs if r.val_thresholds and (h := r.val_thresholds[k].sustained) is not None
            ]
            vs = None
            if base is not None and i != base:
                found = find(pairs, names[base], names[i])
                family = None if found is None else oriented(found[0].thresholds[k], found[1])
                vs = paired_speedup(summaries, i, base, k, family)
            thresholds.append(
                AggregateCrossing(
                    threshold=t.threshold,
                    sustained_mean=_round(_mean(reached), 1),
                    sustained_std=_round(_std(reached), 1),
                    reached=len(reached),
                    vs_baseline=vs,
                    val_sustained_mean=_round(_mean(val_reached), 1) if measured else None,
                    val_reached=len(val_reached) if measured else None,
                )
            )
        members.append(
            AggregateMember(
                activation=m.activation,
                final_accuracy_mean=_round(_mean(finals)),
                final_accuracy_std=_round(_std(finals)),
                diverged=sum(r.status == "diverged" for r in runs),
                thresholds=thresholds,
                val_final_accuracy_mean=_round(_mean(val_finals)) if measured else None,
                val_final_accuracy_std=_round(_std(val_finals)) if measured else None,
            )
        )
    agg = Aggregate(
        seeds=[s.seed for s in summaries],
        runs=len(summaries),
        baseline=None if base is None else names[base],
        interval=Interval(level=0.95, method=INTERVAL_METHOD, adjustment=HOLM_NOTE.format(m=tests)),
        members=members,
        validation_size=validation_size,
        pairs=pairs,
        tests=tests,
    )
    split = split_of(agg)
    agg.verdict = verdict(
        [standing(m, agg.runs, split) for m in members],
        pairs,
        tests,
        first.thresholds,
        split,
        validation_size,
        agg.runs,
    )
    return agg


def comparable(summaries: list[Summary]) -> str | None:
    """Why these summaries are not repeats of one comparison (None when they are): each must
    compare the same members, in order, at the same thresholds."""
    if not summaries:
        return "no summaries"

    def shape(s: Summary) -> list[tuple[str, list[float]]]:
        return [(m.activation, [t.threshold for t in m.thresholds]) for m in s.members]

    first = shape(summaries[0])
    for s in summaries[1:]:
        if shape(s) != first:
            mine = [a for a, _ in shape(s)]
            if mine != [a for a, _ in first]:
                return f"members {', '.join(mine)} differ from {', '.join(a for a, _ in first)}"
            return "their runs track different thresholds"
    return None


def _mean(xs: list[float] | list[int]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _std(xs: list[float] | list[int]) -> float | None:
    """Sample standard deviation (n - 1); None for fewer than two values."""
    if len(xs) < 2:
        return None
    mu = sum(xs) / len(xs)
    return math.sqrt(sum((x - mu) ** 2 for x in xs) / (len(xs) - 1))
