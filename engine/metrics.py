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
from .results_model import (
    SUMMARY_VERSION,
    Aggregate,
    AggregateCrossing,
    AggregateMember,
    CostMeasurement,
    Crossing,
    Interval,
    MemberSummary,
    PairedSpeedup,
    SeedPair,
    Summary,
)


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
        elif isinstance(event, Evaluation):
            self.iteration = max(self.iteration, event.iteration)
            for rec, acc in zip(self.members, event.accuracy):
                if acc is None or rec.status == "diverged":
                    continue
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
    members = []
    for i, m in enumerate(first.members):
        runs = [s.members[i] for s in summaries]
        finals = [r.final_accuracy for r in runs if r.final_accuracy is not None]
        thresholds = []
        for k, t in enumerate(m.thresholds):
            hits = [r.thresholds[k].sustained for r in runs]
            reached = [h for h in hits if h is not None]
            thresholds.append(
                AggregateCrossing(
                    threshold=t.threshold,
                    sustained_mean=_round(_mean(reached), 1),
                    sustained_std=_round(_std(reached), 1),
                    reached=len(reached),
                    vs_baseline=None if base is None or i == base else paired_speedup(summaries, i, base, k),
                )
            )
        members.append(
            AggregateMember(
                activation=m.activation,
                final_accuracy_mean=_round(_mean(finals)),
                final_accuracy_std=_round(_std(finals)),
                diverged=sum(r.status == "diverged" for r in runs),
                thresholds=thresholds,
            )
        )
    return Aggregate(
        seeds=[s.seed for s in summaries],
        runs=len(summaries),
        baseline=None if base is None else names[base],
        interval=Interval(level=0.95, method=INTERVAL_METHOD),
        members=members,
    )


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


# ------------------------------------------------------------------ paired seeds
#
# Seeds are paired: within one seed every member starts from the same weights and sees the
# same batches, so the per-seed ratio (baseline's sustained crossing / the member's) removes
# what the seed does to both. Ratios are multiplicative (x2 faster and x2 slower are equally
# far from 1), so the statistics are on their logarithms: the geometric mean and a 95% t
# interval, exponentiated. With the 3-10 seeds one can afford, a percentile bootstrap is too
# narrow (with 3 seeds it has 10 distinct resamples and can never be wider than the data);
# the t interval is honest about few seeds: with 2 it is very wide, as it should be.

INTERVAL_METHOD = "t interval on the log of per-seed ratios (geometric mean), seeds where both reached it"

# two-sided 95% quantiles of Student's t, df 1..30 (scipy.stats.t.ppf(0.975, df))
_T975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.306, 2.2622, 2.2281,
    2.201, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.093, 2.086,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip


def t_quantile_975(df: int) -> float:
    """The 0.975 quantile of Student's t with `df` degrees of freedom (df >= 1): a table up to
    30, then the Cornish-Fisher expansion around the normal quantile (error < 1e-4)."""
    if df < 1:
        raise ValueError(f"degrees of freedom {df}: must be >= 1")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959963984540054
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    return z + g1 / df + g2 / df**2 + g3 / df**3


def paired_speedup(summaries: list[Summary], member: int, base: int, k: int) -> PairedSpeedup:
    """One member against the baseline at threshold k, seed by seed.

    Each seed is one of: both reached it (a ratio; faster, slower or a tie), only the member
    reached it (faster, ratio unknown: the baseline never got there in the run), only the
    baseline reached it (slower), neither (no information; a diverged member did not reach
    it). The geometric mean and the interval come from the seeds where both reached it."""
    per_seed = []
    counts = {"faster": 0, "slower": 0, "tie": 0, "neither": 0}
    only = {"member": 0, "baseline": 0}
    logs = []
    for s in summaries:
        b = s.members[base].thresholds[k].sustained
        m = s.members[member].thresholds[k].sustained
        ratio = b / m if b is not None and m is not None else None
        per_seed.append(SeedPair(seed=s.seed, baseline=b, member=m, ratio=_round(ratio, 4)))
        if ratio is not None:
            logs.append(math.log(ratio))
            counts["faster" if ratio > 1 else "slower" if ratio < 1 else "tie"] += 1
        elif m is not None:
            counts["faster"] += 1
            only["member"] += 1
        elif b is not None:
            counts["slower"] += 1
            only["baseline"] += 1
        else:
            counts["neither"] += 1
    mean = low = high = None
    if logs:
        mu = sum(logs) / len(logs)
        mean = math.exp(mu)
        if len(logs) >= 2:
            sd = math.sqrt(sum((x - mu) ** 2 for x in logs) / (len(logs) - 1))
            half = t_quantile_975(len(logs) - 1) * sd / math.sqrt(len(logs))
            low, high = math.exp(mu - half), math.exp(mu + half)
    clear = None if low is None or high is None else (low > 1 or high < 1)
    first = summaries[0].members
    result = PairedSpeedup(
        baseline=first[base].activation,
        seeds=len(summaries),
        faster=counts["faster"],
        slower=counts["slower"],
        tie=counts["tie"],
        neither=counts["neither"],
        only_member_reached=only["member"],
        only_baseline_reached=only["baseline"],
        paired=len(logs),
        ratio_mean=_round(mean, 4),
        ratio_low=_round(low, 4),
        ratio_high=_round(high, 4),
        clear=clear,
        per_seed=per_seed,
    )
    result.statement = paired_statement(
        first[member].activation, first[member].thresholds[k].threshold, result
    )
    return result


def _x(v: float) -> str:
    return f"{v:.2f}"


def paired_statement(member: str, threshold: float, p: PairedSpeedup) -> str:
    """The comparison as one sentence: "relu reaches 0.9 faster than tanh in 4 of 5 seeds:
    x1.30 [0.90, 1.70]; not a clear difference"."""
    base, n = p.baseline, p.seeds
    if p.neither == n:
        return f"neither {member} nor {base} reaches {threshold:g} in any of {n} seeds"
    word, count = ("faster", p.faster) if p.faster >= p.slower else ("slower", p.slower)
    head = f"{member} reaches {threshold:g} {word} than {base} in {count} of {n} seeds"
    others = []
    if p.tie:
        others.append(f"tied in {p.tie}")
    if p.only_member_reached:
        others.append(f"{base} never reached it in {p.only_member_reached}")
    if p.only_baseline_reached:
        others.append(f"{member} never reached it in {p.only_baseline_reached}")
    if p.neither:
        others.append(f"neither reached it in {p.neither}")
    if others:
        head += f" ({'; '.join(others)})"
    if p.paired == 0 or p.ratio_mean is None:
        return head + ": no seed where both reached it, so no ratio"
    over = "" if p.paired == n else f" over the {p.paired} seeds both reached it"
    if p.ratio_low is None or p.ratio_high is None:
        return head + f": x{_x(p.ratio_mean)}{over}; one seed, no interval"
    verdict = "not a clear difference"
    if p.clear:
        verdict = f"clearly {'faster' if p.ratio_low > 1 else 'slower'}"
    return head + f": x{_x(p.ratio_mean)} [{_x(p.ratio_low)}, {_x(p.ratio_high)}]{over}; {verdict}"


def _mean(xs: list[float] | list[int]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _std(xs: list[float] | list[int]) -> float | None:
    """Sample standard deviation (n - 1); None for fewer than two values."""
    if len(xs) < 2:
        return None
    mu = sum(xs) / len(xs)
    return math.sqrt(sum((x - mu) ** 2 for x in xs) / (len(xs) - 1))
