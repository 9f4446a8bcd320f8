"""A sweep summed up: each point over its seeds, which activation wins where, the best lr.

Read from the runs' stored summaries (`sweep_dir.run_summary`), written as each point's
aggregate.json and the sweep's sweep-results.json, printed by `report_sweeps`.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from actlab.engine.metrics import aggregate, comparable
from actlab.engine.pairs import compare_all, member_runs
from actlab.engine.results_model import (
    Aggregate,
    AggregateMember,
    BestLr,
    BestPoint,
    Heatmap,
    HeatmapCell,
    HeatmapRow,
    PointResult,
    Summary,
    SweepResults,
)
from actlab.engine.verdict import choose, split_of, standing, verdict
from actlab.engine.verdict import join_words as _join

from .store import ResultsError, write_file
from .sweep_dir import run_summary
from .sweep_plan import PLAN_VERSION, RESULTS_FILE, Plan

# ------------------------------------------------------------------------------ results


def point_results(root: Path, plan: Plan) -> tuple[list[PointResult], dict[str, list[Summary]]]:
    """Per point: its values, whether every seed is done, and the aggregate over seeds (None
    until every seed of the point is done); and the finished points' summaries, by name."""
    out = []
    finished: dict[str, list[Summary]] = {}
    for point in plan.points:
        summaries = [run_summary(root, point.run_dir(s)) for s in plan.seeds]
        done = [s for s in summaries if s is not None and s.status == "done"]
        complete = len(done) == len(plan.seeds)
        if complete:
            _check_point(root / point.name, plan, done)
            finished[point.name] = done
        out.append(
            PointResult(point.name, point.values, point.job, complete, aggregate(done) if complete else None)
        )
    return out, finished


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
    points, finished = point_results(root, plan)
    results = SweepResults(
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
    if plan.axes:
        best_points(results, finished)
    return results


def chosen_on(points: list[PointResult]) -> str:
    """Where a sweep's choices are made: validation when its finished points measured it."""
    splits = {split_of(p.aggregate) for p in points if p.aggregate is not None}
    return "validation" if splits == {"validation"} else "test"


def best_points(results: SweepResults, finished: dict[str, list[Summary]]) -> None:
    """Each activation at its own best finished point (chosen by the one rule on validation),
    every pair of them paired by seed on test, and the verdict over them (set on `results`)."""
    done = [p for p in results.points if p.aggregate is not None]
    if not done:
        return
    split = chosen_on(results.points)
    seeds = len(results.seeds)
    contenders = []
    for a, act in enumerate(results.activations):
        options = [standing(p.aggregate.members[a], seeds, split) for p in done if p.aggregate is not None]
        index, _ = choose(options)
        point = done[0 if index is None else index]
        results.best_points.append(BestPoint(act, point.name, point.values, split))
        contenders.append(member_runs(finished[point.name], a, act))
    results.pairs, results.tests = compare_all(contenders, results.thresholds)
    standings = []
    for b in results.best_points:
        point = next(p for p in done if p.name == b.point)
        assert point.aggregate is not None
        standings.append(
            standing(point.aggregate.members[results.activations.index(b.activation)], seeds, split)
        )
    wins: dict[str, int] = {}
    for p in done:
        assert p.aggregate is not None
        index, _ = choose([standing(m, seeds, split) for m in p.aggregate.members])
        if index is not None:
            name = p.aggregate.members[index].activation
            wins[name] = wins.get(name, 0) + 1
    at = ", ".join(f"{b.activation} at {b.point.replace(',', ' ')}" for b in results.best_points)
    won = _join([f"{name} at {n}" for name, n in sorted(wins.items(), key=lambda x: -x[1])])
    of = f"{len(done)} finished point{'s' if len(done) != 1 else ''}"
    preface = (
        f"Each activation at its own best point of this sweep, chosen on the {split} split: {at}. "
        f"Point by point, the same rule recommends {won} of the {of}."
    )
    sizes = {p.aggregate.validation_size for p in done if p.aggregate is not None}
    size = sizes.pop() if len(sizes) == 1 else None
    results.verdict = verdict(
        standings, results.pairs, results.tests, results.thresholds, split, size, seeds, preface
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


def _iterations(member: AggregateMember, k: int, seeds: int, split: str = "test") -> float | None:
    """Mean sustained crossing of threshold k on `split`, counted only when every seed
    reached it."""
    t = member.thresholds[k]
    if split == "validation":
        return t.val_sustained_mean if t.val_reached == seeds else None
    return t.sustained_mean if t.reached == seeds else None


def heatmap_threshold(plan: Plan, points: list[PointResult], split: str = "test") -> int | None:
    """The threshold the grid shows: the highest that some activation reaches (in every seed,
    on `split`, where the choice is made) at at least half of the finished points, so that
    one good point does not leave the rest of the grid blank; failing that (few points), the
    highest reached at any point."""
    n = len(plan.seeds)
    reached: list[set[int]] = []  # per finished point: the thresholds someone reached there
    for p in points:
        if p.aggregate is not None:
            reached.append(
                {
                    k
                    for m in p.aggregate.members
                    for k in range(len(m.thresholds))
                    if _iterations(m, k, n, split) is not None
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
    grid of rows (all axes but the last) by columns (the last axis). The threshold and each
    cell's winner are chosen on validation (where the sweep has it); the iterations a cell
    shows are the test split's."""
    if not plan.axes:
        return None
    split = chosen_on(points)
    k = heatmap_threshold(plan, points, split)
    names = [n for n, _ in plan.axes]
    col_axis, col_values = plan.axes[-1]
    row_axes = plan.axes[:-1]
    rows = []
    for combo in itertools.product(*(vs for _, vs in row_axes)):
        cells = []
        for cv in col_values:
            values = dict(zip([n for n, _ in row_axes], combo)) | {col_axis: cv}
            point = next(p for p in points if all(p.values[n] == values[n] for n in names))
            cells.append(_cell(point, k, len(plan.seeds), split))
        rows.append(HeatmapRow(dict(zip([n for n, _ in row_axes], combo)), cells))
    return Heatmap(
        threshold=None if k is None else plan.base.thresholds[k],
        row_axes=[n for n, _ in row_axes],
        column_axis=col_axis,
        columns=col_values,
        rows=rows,
        chosen_on=split,
    )


def _final(m: AggregateMember, split: str) -> float:
    final = m.val_final_accuracy_mean if split == "validation" else m.final_accuracy_mean
    return -1.0 if final is None else final


def _cell(point: PointResult, k: int | None, seeds: int, split: str) -> HeatmapCell:
    agg = point.aggregate
    if agg is None:
        return HeatmapCell(point.name, "unfinished", None, None)
    if k is None:
        return HeatmapCell(point.name, "none", None, None)
    # fewest iterations first, ties to the higher final accuracy (on the same split)
    ranked = sorted(
        (it, -_final(m, split), i)
        for i, m in enumerate(agg.members)
        if (it := _iterations(m, k, seeds, split)) is not None
    )
    if not ranked:
        return HeatmapCell(point.name, "none", None, None)
    winner = agg.members[ranked[0][2]]
    second = agg.members[ranked[1][2]] if len(ranked) > 1 else None
    return HeatmapCell(
        point.name,
        "reached",
        winner.activation,
        _iterations(winner, k, seeds),  # reported on test (None: not every seed reached it there)
        runner_up=None if second is None else second.activation,
        runner_up_iterations=None if second is None else _iterations(second, k, seeds),
    )


def best_lr(plan: Plan, points: list[PointResult]) -> list[BestLr] | None:
    """Each activation at its own best learning rate, per combination of the other axes:
    best by iterations to the highest threshold it reaches (in every seed) at any lr, ties by
    final accuracy, on the validation split (test for a sweep without one); its figures then
    reported on test, beside the same activation at the shared lr (the base config's when it
    is swept, else the sweep's first)."""
    names = [n for n, _ in plan.axes]
    if "lr" not in names:
        return None
    split = chosen_on(points)
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
            if not at_lr:
                continue
            lrs_here = list(at_lr)
            index, top_k = choose([standing(at_lr[lr].members[a], n_seeds, split) for lr in lrs_here])
            best_at = lrs_here[0 if index is None else index]
            best = at_lr[best_at].members[a]
            top = -1 if top_k is None else top_k
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
                    chosen_on=split,
                )
            )
    return out
