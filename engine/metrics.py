"""Threshold crossings and the run summary, computed from the event stream alone.

The same `SummaryBuilder` serves the engine (the summary of a live run), the results writer
(summary.json), the TUI table and a replayed run, so every view agrees by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .events import (
    Diagnostics,
    EpochFinished,
    Evaluation,
    Event,
    MemberCosts,
    MemberDiverged,
    RunFinished,
    RunStarted,
)

SUMMARY_VERSION = 1


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
    epoch_accuracies: dict[int, list[float]] = field(default_factory=dict)
    diagnostics: dict[str, Any] | None = None
    epoch_time_alone_s: float | None = None


class SummaryBuilder:
    """Feed it events; ask it for the summary (a JSON-ready dict) at any point."""

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
        elif isinstance(event, Evaluation):
            self.iteration = max(self.iteration, event.iteration)
            for rec, acc in zip(self.members, event.accuracy):
                if acc is None or rec.status == "diverged":
                    continue
                rec.last_accuracy = acc
                rec.epoch_accuracies.setdefault(event.epoch, []).append(acc)
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
        if rec.status == "diverged" or not rec.epoch_accuracies:
            return None
        last = max(rec.epoch_accuracies)
        accs = rec.epoch_accuracies[last]
        return sum(accs) / len(accs)

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

    def summary(self) -> dict[str, Any]:
        s = self.started
        epoch_time = self.epoch_time()
        members = []
        for i, rec in enumerate(self.members):
            members.append(
                {
                    "activation": rec.activation,
                    "status": rec.status,
                    "diverged_at": rec.diverged_at,
                    "final_accuracy": _round(self.final_accuracy(rec)),
                    "last_accuracy": _round(rec.last_accuracy),
                    "epoch_time_s": _round(epoch_time, 6),
                    "epoch_time_alone_s": _round(rec.epoch_time_alone_s, 6),
                    "cost_vs_relu": _round(self.relative_cost(rec), 3),
                    "prelu_slopes": (rec.diagnostics or {}).get("prelu_slopes"),
                    "thresholds": [
                        {
                            "threshold": tr.threshold,
                            "first": tr.first,
                            "sustained": tr.sustained,
                            "speedup": _round(self.speedup(i, k), 3),
                        }
                        for k, tr in enumerate(rec.trackers)
                    ],
                    "diagnostics": rec.diagnostics,
                }
            )
        return {
            "version": SUMMARY_VERSION,
            "status": self.status,
            "error": self.error,
            "config": s.config if s else None,
            "dataset": s.dataset if s else None,
            "device": s.device if s else None,
            "eval_every": s.eval_every if s else None,
            "diagnostics_every": s.diagnostics_every if s else None,
            "baseline": s.baseline if s else None,
            "iterations_per_epoch": s.iterations_per_epoch if s else None,
            "iterations": self.iteration,
            "epochs_completed": self.last_epoch,
            "elapsed_s": _round(self.elapsed_s, 3),
            "epoch_time_s": _round(epoch_time, 6),
            "eval_time_s": _round(self.eval_seconds, 3),
            "cost_measurement": None
            if self.costs is None
            else {
                "reference": self.costs.reference,
                "reference_epoch_time_alone_s": _round(self.costs.reference_epoch_time_alone_s, 6),
                "steps": self.costs.steps,
                "rounds": self.costs.rounds,
                "seconds": _round(self.costs.seconds, 4),
            },
            "members": members,
        }


def _round(x: float | None, digits: int = 5) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(x, digits)


def aggregate(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread over repeats of one comparison with different seeds.

    Per member: final accuracy mean/std, and per threshold the sustained crossing's mean/std
    over the seeds that reached it, with how many did. A difference smaller than the spread
    is not a win."""
    first = summaries[0]
    members = []
    for i, m in enumerate(first["members"]):
        runs = [s["members"][i] for s in summaries]
        finals = [r["final_accuracy"] for r in runs if r["final_accuracy"] is not None]
        thresholds = []
        for k, t in enumerate(m["thresholds"]):
            hits = [
                r["thresholds"][k]["sustained"] for r in runs if r["thresholds"][k]["sustained"] is not None
            ]
            thresholds.append(
                {
                    "threshold": t["threshold"],
                    "sustained_mean": _round(_mean(hits), 1),
                    "sustained_std": _round(_std(hits), 1),
                    "reached": len(hits),
                }
            )
        members.append(
            {
                "activation": m["activation"],
                "final_accuracy_mean": _round(_mean(finals)),
                "final_accuracy_std": _round(_std(finals)),
                "diverged": sum(r["status"] == "diverged" for r in runs),
                "thresholds": thresholds,
            }
        )
    return {
        "seeds": [s["config"]["seed"] for s in summaries],
        "runs": len(summaries),
        "members": members,
    }


def _mean(xs: list[float] | list[int]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _std(xs: list[float] | list[int]) -> float | None:
    """Sample standard deviation (n - 1); None for fewer than two values."""
    if len(xs) < 2:
        return None
    mu = sum(xs) / len(xs)
    return math.sqrt(sum((x - mu) ** 2 for x in xs) / (len(xs) - 1))
