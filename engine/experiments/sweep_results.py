"""A sweep summed up: each point over its seeds, which activation wins where, the best lr.

Read from the runs' stored summaries (`sweep_dir.run_summary`), written as each point's
aggregate.json and the sweep's sweep-results.json, printed by `report_sweeps`.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

from actlab.engine.metrics import aggregate, comparable
from actlab.engine.results_model import (
    Aggregate,
    AggregateMember,
    BestLr,
    Heatmap,
    HeatmapCell,
    HeatmapRow,
    PointResult,
    Summary,
    SweepResults,
)

from .store import ResultsError, write_file
from .sweep_dir import run_summary
from .sweep_plan import PLAN_VERSION, RESULTS_FILE, Plan

# ------------------------------------------------------------------------------ results


def point_results(root: Path, plan: Plan) -> list[PointResult]:
    """Per point: its values, whether every seed is done, and the aggregate over seeds (None
    until every seed of the point is done)."""
    out = []
    for point in plan.points:
        summaries = [run_summary(root, point.run_dir(s)) for s in plan.seeds]
        done = [s for s in summaries if s is not None and s.status == "done"]
        complete = len(done) == len(plan.seeds)
        if complete:
            _check_point(root / point.name, plan, done)
        out.append(
            PointResult(point.name, point.values, point.job, complete, aggregate(done) if complete else None)
        )
    return out


def _check_point(where: Path, plan: Plan, summaries: list[Summary]) -> None:
    """A point's runs are its plan's comparison (the same members at the same thresholds);
    runs that are not (a damaged or foreign directory) are one ResultsError naming the point."""
    reason = comparable(summaries)
    members = [m.activation for m in summaries[0].members]
    if reason is None and members != list(plan.base.activations):
        reason = f"members {', '.join(members)}, not the plan's {', '.join(plan.base.activations)}"
    if reason is None and summaries[0].thresholds != list(plan.base.thresholds):
        reason = "its runs track other thresholds than the plan's"
    if reason is not None:
        raise ResultsError(f"{where}: its runs are not this sweep's comparison ({reason})")


def sweep_results(root: Path, plan: Plan) -> SweepResults:
    points = point_results(root, plan)
    return SweepResults(
        version=PLAN_VERSION,
        axes=list(plan.axes),
        seeds=plan.seeds,
        activations=list(plan.base.activations),
        baseline=plan.base.baseline,
        thresholds=list(plan.base.thresholds),
        complete=all(p.complete for p in points),
        points=points,
        heatmap=heatmap(plan, points),
        best_lr=best_lr(plan, points),
    )


def write_results(root: Path, plan: Plan) -> SweepResults:
    """Write each finished point's aggregate.json and the sweep's results; return them."""
    results = sweep_results(root, plan)
    for p in results.points:
        if p.aggregate is None:
            continue
        where = root / p.name if p.name else root
        write_file(where / "aggregate.json", json.dumps(p.aggregate.to_json(), indent=2) + "\n", replace=True)
    if plan.axes:
        write_file(root / RESULTS_FILE, json.dumps(results.to_json(), indent=2) + "\n", replace=True)
    return results


# ------------------------------------------------------------------------------ views


def _iterations(member: AggregateMember, k: int, seeds: int) -> float | None:
    """Mean sustained crossing of threshold k, counted only when every seed reached it."""
    t = member.thresholds[k]
    return t.sustained_mean if t.reached == seeds else None


def heatmap_threshold(plan: Plan, points: list[PointResult]) -> int | None:
    """The threshold the grid shows: the highest that some activation reaches (in every seed)
    at at least half of the finished points, so that one good point does not leave the rest
    of the grid blank; failing that (few points), the highest reached at any point."""
    n = len(plan.seeds)
    reached: list[set[int]] = []  # per finished point: the thresholds someone reached there
    for p in points:
        if p.aggregate is not None:
            reached.append(
                {
                    k
                    for m in p.aggregate.members
                    for k in range(len(m.thresholds))
                    if _iterations(m, k, n) is not None
                }
            )
    if not reached:
        return None
    counts = {k: sum(k in r for r in reached) for k in set.union(*reached)}
    common = [k for k, c in counts.items() if 2 * c >= len(reached)]
    best = common or list(counts)
    return max(best) if best else None


def heatmap(plan: Plan, points: list[PointResult]) -> Heatmap | None:
    """Which activation wins where: the fewest iterations to one threshold at each point, a
    grid of rows (all axes but the last) by columns (the last axis)."""
    if not plan.axes:
        return None
    k = heatmap_threshold(plan, points)
    names = [n for n, _ in plan.axes]
    col_axis, col_values = plan.axes[-1]
    row_axes = plan.axes[:-1]
    rows = []
    for combo in itertools.product(*(vs for _, vs in row_axes)):
        cells = []
        for cv in col_values:
            values = dict(zip([n for n, _ in row_axes], combo)) | {col_axis: cv}
            point = next(p for p in points if all(p.values[n] == values[n] for n in names))
            cells.append(_cell(point, k, len(plan.seeds)))
        rows.append(HeatmapRow(dict(zip([n for n, _ in row_axes], combo)), cells))
    return Heatmap(
        threshold=None if k is None else plan.base.thresholds[k],
        row_axes=[n for n, _ in row_axes],
        column_axis=col_axis,
        columns=col_values,
        rows=rows,
    )


def _cell(point: PointResult, k: int | None, seeds: int) -> HeatmapCell:
    agg = point.aggregate
    if agg is None:
        return HeatmapCell(point.name, "unfinished", None, None)
    if k is None:
        return HeatmapCell(point.name, "none", None, None)
    ranked = sorted(
        ((it, m.activation) for m in agg.members if (it := _iterations(m, k, seeds)) is not None),
        key=lambda x: x[0],
    )
    if not ranked:
        return HeatmapCell(point.name, "none", None, None)
    it, winner = ranked[0]
    second = ranked[1] if len(ranked) > 1 else (None, None)
    return HeatmapCell(point.name, "reached", winner, it, runner_up=second[1], runner_up_iterations=second[0])


def best_lr(plan: Plan, points: list[PointResult]) -> list[BestLr] | None:
    """Each activation at its own best learning rate, per combination of the other axes:
    best by iterations to the highest threshold it reaches (in every seed) at any lr, ties by
    final accuracy; beside it the same activation at the shared lr (the base config's when it
    is swept, else the sweep's first)."""
    names = [n for n, _ in plan.axes]
    if "lr" not in names:
        return None
    lrs = [v for v in dict(plan.axes)["lr"] if not isinstance(v, str)]  # numbers: checked settings
    shared = plan.base.lr if plan.base.lr in lrs else lrs[0]
    others = [(n, vs) for n, vs in plan.axes if n != "lr"]
    n_seeds = len(plan.seeds)
    out = []
    for combo in itertools.product(*(vs for _, vs in others)):
        fixed = dict(zip([n for n, _ in others], combo))
        at_lr: dict[float, Aggregate] = {}
        for p in points:
            lr = p.values["lr"]
            if (
                p.aggregate is not None
                and not isinstance(lr, str)
                and all(p.values[n] == v for n, v in fixed.items())
            ):
                at_lr[lr] = p.aggregate
        for a, act in enumerate(plan.base.activations):
            options = []
            for lr, agg in at_lr.items():
                m = agg.members[a]
                reached = [k for k in range(len(m.thresholds)) if _iterations(m, k, n_seeds) is not None]
                options.append((lr, m, max(reached) if reached else -1))
            if not options:
                continue
            top = max(k for _, _, k in options)

            def score(o: tuple[float, AggregateMember, int], top: int = top) -> tuple[float, float]:
                _, m, _ = o
                it = _iterations(m, top, n_seeds) if top >= 0 else None
                final = m.final_accuracy_mean
                return (it if it is not None else math.inf, -(final if final is not None else -1.0))

            best_at, best, _ = min(options, key=score)
            shared_m = at_lr[shared].members[a] if shared in at_lr else None
            out.append(
                BestLr(
                    values=fixed,
                    activation=act,
                    best_lr=best_at,
                    threshold=plan.base.thresholds[top] if top >= 0 else None,
                    iterations=_iterations(best, top, n_seeds) if top >= 0 else None,
                    final_accuracy=best.final_accuracy_mean,
                    shared_lr=shared,
                    shared_iterations=(
                        _iterations(shared_m, top, n_seeds) if shared_m is not None and top >= 0 else None
                    ),
                    shared_final_accuracy=None if shared_m is None else shared_m.final_accuracy_mean,
                )
            )
    return out
