"""The tables over seeds and of sweeps, in every output format (`report.FORMATS`).

A `--seeds` run is a sweep without axes: its table is the aggregate over the seeds (mean,
spread, and the speedup paired by seed). A sweep adds the table per point, the heatmap of
which activation wins where, each activation at its best learning rate, and the paired
statements. Cells and layouts come from `report` (one run's tables).
"""

from __future__ import annotations

import json

from actlab.engine.results_model import Aggregate, AggregateMember, PairedSpeedup, Summary, SweepResults
from actlab.engine.verdict import split_of

from .report import as_text, csv_text, fixed_text, threshold_table, value_text
from .report_pairs import pairs_csv, pairs_text, verdict_text


def ratio_text(p: PairedSpeedup | None) -> str:
    """A member's paired speedup over seeds: geometric mean and its Holm-adjusted 95% interval
    (the 95% one for an aggregate of an older actlab, which has no adjustment)."""
    if p is None:
        return "baseline"
    if p.ratio_mean is None:
        return "-"
    low, high = p.adjusted_low, p.adjusted_high
    if low is None:  # an aggregate of an older actlab
        low, high = p.ratio_low, p.ratio_high
    if low is None or high is None:
        return f"x{p.ratio_mean:.2f} (1 seed)"
    return f"x{p.ratio_mean:.2f} [{low:.2f}, {high:.2f}]"


def validation_text(agg: Aggregate) -> str:
    """Where the aggregate's choices are made, for its footer."""
    if agg.validation_size is None or (agg.validation_size and split_of(agg) != "validation"):
        return (
            "Validation split: not measured (runs of an older actlab, or seeds that differ), so the "
            "verdict's choice is made on test"
        )
    if agg.validation_size == 0:
        return "Validation split: none (--validation 0), so the verdict's choice is made on test"
    return (
        f"Validation split: {agg.validation_size} images carved from the training split, the same "
        "in every seed; the verdict's choice is made on it, its claims on test"
    )


def aggregate_rows(agg: Aggregate) -> list[list[str]]:
    members = agg.members
    n = agg.runs
    paired = agg.baseline is not None
    rows: list[list[str]] = [[f"Function ({n} seeds)", *[m.activation for m in members]]]
    for k, t in enumerate(members[0].thresholds if members else []):
        cells = []
        for m in members:
            tk = m.thresholds[k]
            if tk.reached == 0:
                cells.append(f"not reached (0/{n})")
            else:
                spread = "" if tk.sustained_std is None else f" ± {tk.sustained_std:.0f}"
                cells.append(f"{fixed_text(tk.sustained_mean, 0)}{spread} ({tk.reached}/{n})")
        rows.append([f"Iterations to reach {t.threshold:g}", *cells])
        if paired:
            rows.append(["", *[ratio_text(m.thresholds[k].vs_baseline) for m in members]])
    cells = []
    for m in members:
        mean, std = m.final_accuracy_mean, m.final_accuracy_std
        cells.append("-" if mean is None else f"{mean:.4f}" + ("" if std is None else f" ± {std:.4f}"))
    rows.append(["Final accuracy", *cells])
    cells = []
    for m in members:
        mean, std = m.val_final_accuracy_mean, m.val_final_accuracy_std
        if split_of(agg) != "validation":
            cells.append("not measured")
        else:
            cells.append("-" if mean is None else f"{mean:.4f}" + ("" if std is None else f" ± {std:.4f}"))
    rows.append(["Validation final accuracy", *cells])
    rows.append(["Diverged", *[f"{m.diverged}/{n}" for m in members]])
    return rows


def aggregate_notes(agg: Aggregate) -> list[str]:
    """The footnote and one sentence per member and threshold against the baseline."""
    foot = f"Test split: sustained crossing, mean ± standard deviation over seeds {agg.seeds}"
    if agg.baseline is not None:
        adjusted = f"Holm-adjusted over the {agg.tests} paired tests of every pair" if agg.tests else "95%"
        foot += (
            f"; below it the speedup vs {agg.baseline} paired by seed: geometric mean and t interval "
            f"({adjusted}) of the per-seed ratios, over the seeds where both reached the threshold "
            "(clear when the interval excludes 1)"
        )
    foot += ".\n" + validation_text(agg)
    statements = [
        tk.vs_baseline.statement for m in agg.members for tk in m.thresholds if tk.vs_baseline is not None
    ]
    return [foot + "."] + (["\n".join(statements)] if statements else [])


def aggregate_table(agg: Aggregate, fmt: str = "table") -> str:
    """Mean ± standard deviation over seeds per member, the paired speedups against the
    baseline with their statements, every pair, and the verdict (csv: the members' figures,
    then every pair as a second CSV block)."""
    if fmt == "csv":
        return aggregate_csv(agg) + "\n\n" + pairs_csv(agg.pairs)
    if fmt == "json":
        return json.dumps(agg.to_json(), indent=2)
    return "\n\n".join(p for p in aggregate_sections(agg, fmt).values() if p)


def aggregate_sections(agg: Aggregate, fmt: str) -> dict[str, str]:
    """The parts of an aggregate's text (table or md), in order: "table" (over the seeds, with
    the paired statements against the baseline), "pairs" (every pair) and "verdict"; a report
    puts each under its own heading."""
    return {
        "table": as_text(aggregate_rows(agg), aggregate_notes(agg), fmt),
        "pairs": pairs_text(agg.pairs, agg.tests, fmt),
        "verdict": verdict_text(agg.verdict, fmt),
    }


def _pair_figures(p: PairedSpeedup | None) -> list[int | float | bool | None]:
    """The CSV's paired columns (PAIR_COLUMNS), empty for the baseline itself."""
    if p is None:
        return [None] * len(PAIR_COLUMNS)
    return [p.faster, p.slower, p.tie, p.neither, p.paired, p.ratio_mean, p.ratio_low, p.ratio_high, p.clear]


PAIR_COLUMNS = [
    "faster",
    "slower",
    "tie",
    "neither",
    "paired",
    "ratio_mean",
    "ratio_low",
    "ratio_high",
    "clear",
]


def aggregate_csv(agg: Aggregate) -> str:
    """One row per member and threshold: spread over seeds and the paired speedup."""
    rows: list[list[object]] = [
        [
            "activation",
            "threshold",
            "seeds",
            "reached",
            "sustained_mean",
            "sustained_std",
            "final_accuracy_mean",
            "final_accuracy_std",
            "diverged",
            "baseline",
            *PAIR_COLUMNS,
        ]
    ]
    for m in agg.members:
        for tk in m.thresholds:
            rows.append(
                [
                    m.activation,
                    tk.threshold,
                    agg.runs,
                    tk.reached,
                    tk.sustained_mean,
                    tk.sustained_std,
                    m.final_accuracy_mean,
                    m.final_accuracy_std,
                    m.diverged,
                    agg.baseline,
                    *_pair_figures(tk.vs_baseline),
                ]
            )
    return csv_text(rows)


# ------------------------------------------------------------------------------ sweeps


def _point_cell(m: AggregateMember, k: int, seeds: int) -> str:
    t = m.thresholds[k]
    if t.reached == 0:
        return "-"
    spread = "" if t.sustained_std is None else f"±{t.sustained_std:.0f}"
    part = "" if t.reached == seeds else f" ({t.reached}/{seeds})"
    return f"{fixed_text(t.sustained_mean, 0)}{spread}{part}"


def shown_threshold(results: SweepResults) -> int:
    """The index of the threshold the paired column shows: the heatmap's (the highest one
    reached somewhere), else the last."""
    thresholds = results.thresholds
    shown = None if results.heatmap is None else results.heatmap.threshold
    return thresholds.index(shown) if shown is not None and shown in thresholds else len(thresholds) - 1


def sweep_rows(results: SweepResults) -> list[list[str]]:
    """One row per point and activation: iterations to each threshold (mean ± sd over seeds,
    (reached/seeds) when not all did), final accuracy, and the paired speedup against the
    baseline at the highest threshold."""
    axes = [n for n, _ in results.axes]
    seeds = len(results.seeds)
    thresholds = results.thresholds
    top = shown_threshold(results)
    head = [*axes, "activation", *[f"to {t:g}" for t in thresholds], "final acc"]
    paired = seeds > 1
    if paired:
        head.append(f"vs {results.baseline} at {thresholds[top]:g}")
    rows = [head]
    for p in results.points:
        values = [value_text(p.values[n]) for n in axes]
        agg = p.aggregate
        if agg is None:
            rows.append([*values, "(unfinished)", *[""] * (len(head) - len(values) - 1)])
            continue
        for m in agg.members:
            mean, std = m.final_accuracy_mean, m.final_accuracy_std
            final = "-" if mean is None else f"{mean:.4f}" + ("" if std is None else f"±{std:.4f}")
            if m.diverged:
                final += f" ({m.diverged} diverged)"
            row = [
                *values,
                m.activation,
                *[_point_cell(m, k, seeds) for k in range(len(thresholds))],
                final,
            ]
            if paired:
                row.append(ratio_text(m.thresholds[top].vs_baseline))
            rows.append(row)
    return rows


def heatmap_rows(results: SweepResults) -> tuple[list[list[str]], str] | None:
    """The which-wins-where grid as rows, and its caption."""
    h = results.heatmap
    if h is None:
        return None
    seeds = len(results.seeds)
    rows = [["", *[f"{h.column_axis}={value_text(v)}" for v in h.columns]]]
    for r in h.rows:
        name = ",".join(f"{n}={value_text(v)}" for n, v in r.values.items())
        cells = []
        for c in r.cells:
            if c.state == "unfinished":
                cells.append("(unfinished)")
            elif c.winner is None:
                cells.append("-")
            else:
                cells.append(f"{c.winner} {fixed_text(c.iterations, 0)}")
        rows.append([name, *cells])
    if h.threshold is None:
        caption = (
            f"Which activation wins where: no activation reached a threshold in every seed at any point "
            f"(on the {h.chosen_on} split)."
        )
    else:
        over = f"mean over {seeds} seeds" if seeds > 1 else "one seed"
        chosen = (
            "the threshold and each winner chosen on the validation split, the iterations shown on test"
            if h.chosen_on == "validation"
            else "chosen on the test split: this sweep has no validation split"
        )
        caption = (
            f"Which activation wins where: the fewest iterations to {h.threshold:g} accuracy "
            f"(sustained; {over}; {chosen}; - : none reached it in every seed)."
        )
    return rows, caption


def best_lr_rows(results: SweepResults) -> list[list[str]] | None:
    best = results.best_lr
    if not best:
        return None
    others = list(best[0].values)
    shared = best[0].shared_lr
    rows = [
        [*others, "activation", "best lr", "threshold", "iterations", "final acc",
         f"at lr={value_text(shared)}: iterations", "final acc"]
    ]  # fmt: skip
    for b in best:
        rows.append(
            [
                *[value_text(b.values[n]) for n in others],
                b.activation,
                value_text(b.best_lr),
                "-" if b.threshold is None else f"{b.threshold:g}",
                fixed_text(b.iterations, 0),
                fixed_text(b.final_accuracy, 4),
                fixed_text(b.shared_iterations, 0),
                fixed_text(b.shared_final_accuracy, 4),
            ]
        )
    return rows


def sweep_statements(results: SweepResults) -> list[str]:
    """Every point's paired statements (seeds > 1), prefixed by the point."""
    out = []
    for p in results.points:
        agg = p.aggregate
        if agg is None or agg.runs < 2:
            continue
        for m in agg.members:
            for t in m.thresholds:
                pair = t.vs_baseline
                if pair is not None and pair.neither < pair.seeds:  # something to say
                    where = f"{p.name}: " if p.name else ""
                    out.append(where + pair.statement)
    return out


SWEEP_FOOT = (
    "Iterations to each threshold: sustained crossing, mean ± sd over seeds {seeds}; (n/{n}): "
    "only n seeds reached it."
)
BEST_LR_NOTE = (
    "Each activation at its own best learning rate: fewest iterations to the highest "
    "threshold it reaches in every seed, ties by final accuracy, chosen on the {split} split; "
    "the iterations and final accuracy shown are the test split's, beside the shared lr's."
)


def best_lr_note(results: SweepResults) -> str:
    best = results.best_lr or []
    split = best[0].chosen_on if best else "validation"
    note = BEST_LR_NOTE.format(split=split)
    if split == "test":
        note += " (This sweep has no validation split: the choice and the figures share the test split.)"
    return note


def best_points_rows(results: SweepResults) -> list[list[str]] | None:
    """Each activation at its own best point (the verdict's contenders)."""
    if not results.best_points:
        return None
    rows = [["activation", "best point", "chosen on"]]
    rows += [[b.activation, b.point.replace(",", ", "), b.chosen_on] for b in results.best_points]
    return rows


def sweep_sections(results: SweepResults, fmt: str = "table") -> dict[str, str]:
    """The parts of a sweep's text (table or md), by name, in order: "points" (the table per
    point and activation), "heatmap" (which activation wins where, with its caption),
    "best_lr", "statements" (the paired statements, a list), "pairs" (each activation at its
    best point, and every pair of them), "unfinished" and "verdict"; a part the sweep has
    nothing for is left out. `sweep_text` joins them; a report puts each under
    its own heading."""
    seeds = results.seeds
    foot = SWEEP_FOOT.format(seeds=seeds, n=len(seeds))
    parts = {"points": as_text(sweep_rows(results), [foot], fmt, left=len(results.axes) + 1)}
    grid = heatmap_rows(results)
    if grid is not None:
        parts["heatmap"] = as_text(grid[0], [], fmt) + "\n\n" + grid[1]
    best = best_lr_rows(results)
    if best is not None:
        parts["best_lr"] = as_text(best, [best_lr_note(results)], fmt, left=len(best[0]) - 6)
    statements = sweep_statements(results)
    if statements:
        parts["statements"] = "\n".join(("- " if fmt == "md" else "  ") + s for s in statements)
    contenders = best_points_rows(results)
    if contenders is not None and results.pairs:
        title = "Each activation at its own best point, paired by seed"
        parts["pairs"] = (
            (f"**{title}**" if fmt == "md" else title + ":")
            + "\n\n"
            + as_text(contenders, [], fmt, left=3)
            + "\n\n"
            + pairs_text(results.pairs, results.tests, fmt)
        )
    if not results.complete:
        parts["unfinished"] = "Unfinished points: actlab-tui --batch --resume <this directory> trains them."
    if results.verdict is not None:  # the answer, last
        parts["verdict"] = verdict_text(results.verdict, fmt)
    return parts


def sweep_text(results: SweepResults, fmt: str = "table") -> str:
    """A sweep: the table per point and activation, which activation wins where, each
    activation at its best learning rate, and the paired statements."""
    if fmt == "json":
        return json.dumps(results.to_json(), indent=2)
    if fmt == "csv":
        text = csv_text(sweep_rows(results))
        return text + ("\n\n" + pairs_csv(results.pairs) if results.pairs else "")
    parts = sweep_sections(results, fmt)
    if "statements" in parts:
        title = (
            "**Paired by seed**"
            if fmt == "md"
            else "Paired by seed (Holm-adjusted t intervals of per-seed ratios):"
        )
        parts["statements"] = (
            f"{title}\n\n{parts['statements']}" if fmt == "md" else f"{title}\n{parts['statements']}"
        )
    return "\n\n".join(parts.values())


def seeds_text(agg: Aggregate, summaries: list[Summary], fmt: str) -> str:
    """What a run of several seeds prints: each seed's table, then the aggregate with the paired
    statements; csv is the aggregate's figures alone (each seed's are in its summary.csv)."""
    if fmt == "json":
        return json.dumps({"aggregate": agg.to_json(), "runs": [s.to_json() for s in summaries]}, indent=2)
    if fmt == "csv":
        return aggregate_table(agg, "csv")
    title = "**seed {}**\n\n" if fmt == "md" else "seed {}\n"
    parts = [title.format(s.seed) + threshold_table(s, fmt) for s in summaries]
    return "\n\n".join([*parts, aggregate_table(agg, fmt)])
