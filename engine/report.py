"""The tables of a summary, laid out like the seed's experiment table, in every output format.

Each table is built once as rows of cells (the first row the header) with notes below it;
`table` aligns them in columns, `md` makes a Markdown table ready to paste into slides (the
same rows and notes), `csv` gives the figures as numbers, one row per member and threshold
(or layer), and `json` the summary itself.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

FORMATS = ("table", "md", "csv", "json")


def crossing_text(first: int | None, sustained: int | None) -> str:
    """The seed's notation: sustained crossing, with the first in parentheses if earlier."""
    if sustained is None:
        return "not reached" if first is None else f"not held ({first} first)"
    if first is not None and first != sustained:
        return f"{sustained} ({first} first)"
    return str(sustained)


def speedup_text(speedup: float | None, is_baseline: bool) -> str:
    if is_baseline:
        return "baseline"
    if speedup is None:
        return "-"
    if speedup >= 1:
        return f"x{speedup:.1f} faster"
    return f"x{1 / speedup:.1f} slower"


def status_text(member: dict[str, Any]) -> str:
    if member["status"] == "diverged":
        return f"diverged at {member['diverged_at']}"
    return str(member["status"])


def value_text(v: Any) -> str:
    """A swept value as names and tables show it: short (0.1, 1e-05, 0) where that reads back
    as the same number, else in full, so two values never share a name."""
    if isinstance(v, float):
        short = f"{v:g}"
        return short if float(short) == v else repr(v)
    return str(v)


def setting_text(value: Any) -> str:
    """A setting's value as a cell: lists comma-joined, None as "-", booleans lower case."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(setting_text(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _ratio(v: float | None) -> str:
    return "-" if v is None else f"x{v:.2f}"


def _fmt(v: float | None, digits: int) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def threshold_rows(summary: dict[str, Any]) -> list[list[str]]:
    """Rows of the iterations-to-threshold table: label, then one cell per member."""
    members = summary["members"]
    baseline = summary.get("baseline")
    rows: list[list[str]] = [["Function", *[m["activation"] for m in members]]]
    for k, t in enumerate(members[0]["thresholds"] if members else []):
        th = t["threshold"]
        rows.append(
            [f"Iterations to reach {th:g}"]
            + [crossing_text(m["thresholds"][k]["first"], m["thresholds"][k]["sustained"]) for m in members]
        )
        rows.append(
            [""] + [speedup_text(m["thresholds"][k]["speedup"], m["activation"] == baseline) for m in members]
        )
    rows.append(["Final accuracy"] + [_fmt(m["final_accuracy"], 4) for m in members])
    # the slides' row: each function's own epoch, timed alone (runs saved before that was
    # measured show "-"; the footer gives the shared lockstep figure)
    alone = [m.get("epoch_time_alone_s") for m in members]
    rows.append(["Training time of 1 epoch (s)"] + [_fmt(a, 4) for a in alone])
    if any(m.get("cost_vs_relu") is not None for m in members):
        rows.append(["  relative to relu"] + [_ratio(m.get("cost_vs_relu")) for m in members])
    rows.append(["Status"] + [status_text(m) for m in members])
    return rows


def render(rows: list[list[str]], gap: int = 3, left: int = 1) -> str:
    """Rows in aligned columns: the first `left` columns (labels) to the left, figures right."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [cell.ljust(w) if c < left else cell.rjust(w) for c, (cell, w) in enumerate(zip(r, widths))]
        lines.append((" " * gap).join(cells).rstrip())
    return "\n".join(lines)


def markdown(rows: list[list[str]], left: int = 1) -> str:
    """A Markdown (GitHub) table: the first row the header, labels left, figures right-aligned."""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    align = [":---" if c < left else "---:" for c in range(len(rows[0]))]
    return "\n".join([line(rows[0]), "| " + " | ".join(align) + " |", *(line(r) for r in rows[1:])])


def as_text(rows: list[list[str]], notes: list[str], fmt: str, left: int = 1) -> str:
    """Rows and the notes below them as an aligned table (`table`) or Markdown (`md`)."""
    if fmt == "md":  # a note of several lines (one sentence each) becomes a list
        notes = ["\n".join("- " + x for x in n.splitlines()) if "\n" in n else n for n in notes]
        return markdown(rows, left) + "".join("\n\n" + n for n in notes)
    return render(rows, left=left) + ("\n\n" + "\n".join(notes) if notes else "")


def csv_text(rows: list[list[Any]]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    return out.getvalue().rstrip("\n")


def threshold_foot(summary: dict[str, Any]) -> str:
    ds = summary.get("dataset") or {}
    foot = (
        f"{ds.get('name')} ({ds.get('train_size')} train / {ds.get('test_size')} test), "
        f"device {summary.get('device')}, evaluated every {summary.get('eval_every')} iterations "
        f"on the whole test split; {summary.get('iterations')} iterations, "
        f"{summary.get('iterations_per_epoch')} per epoch; speedup vs {summary.get('baseline')} "
        "on the sustained crossing."
    )
    members = summary.get("members") or []
    lockstep = summary.get("epoch_time_s")
    cost = summary.get("cost_measurement")
    cohort = summary.get("cohort") or {}
    if lockstep is not None:
        if cohort.get("members"):  # trained with other seeds or points: the time is the cohort's
            foot += (
                f"\nTraining time of 1 epoch of the whole cohort of {cohort['members']} members this run "
                f"was trained in (its seeds and points together, in lockstep): {lockstep:.4f} s"
            )
        else:
            foot += f"\nTraining time of 1 epoch of all {len(members)} members in lockstep: {lockstep:.4f} s"
        if cost:
            foot += (
                f"; each member alone: the fastest of {cost['rounds']} interleaved rounds of "
                f"{cost['steps'] // max(1, cost['rounds'])} step(s) ({cost['seconds']:.2f} s)."
            )
        else:
            foot += "."
    return foot


def threshold_table(summary: dict[str, Any], fmt: str = "table") -> str:
    """The comparison as the seed prints it, with a line on how it was measured."""
    if fmt == "csv":
        return threshold_csv(summary)
    if fmt == "json":
        return json.dumps(summary, indent=2)
    return as_text(threshold_rows(summary), [threshold_foot(summary)], fmt)


THRESHOLD_CSV_COLUMNS = [
    "activation",
    "status",
    "diverged_at",
    "threshold",
    "first",
    "sustained",
    "speedup",
    "final_accuracy",
    "epoch_time_s",
    "epoch_time_alone_s",
]


def threshold_csv_rows(summary: dict[str, Any]) -> list[list[Any]]:
    """One row per member and threshold (the columns of THRESHOLD_CSV_COLUMNS), no header."""
    return [
        [
            m["activation"],
            m["status"],
            m["diverged_at"],
            t["threshold"],
            t["first"],
            t["sustained"],
            t["speedup"],
            m["final_accuracy"],
            m["epoch_time_s"],
            m.get("epoch_time_alone_s"),
        ]
        for m in summary["members"]
        for t in m["thresholds"]
    ]


def threshold_csv(summary: dict[str, Any]) -> str:
    """The figures of the threshold table, as summary.csv holds them."""
    return csv_text([THRESHOLD_CSV_COLUMNS, *threshold_csv_rows(summary)])


def summary_text(summary: dict[str, Any], fmt: str = "table", diagnostics: bool = False) -> str:
    """What a single run prints: the threshold table, and with `diagnostics` the per-layer
    table after a blank line (in csv: a second CSV block); json is the summary, which holds both."""
    if fmt == "json":
        return json.dumps(summary, indent=2)
    text = threshold_table(summary, fmt)
    if diagnostics:
        text += "\n\n" + diagnostics_table(summary, fmt)
    return text


def diagnostics_table(summary: dict[str, Any], fmt: str = "table") -> str:
    """Per member and hidden layer: gradient norm, saturated and dead fractions, mean, std."""
    if fmt == "csv":
        return diagnostics_csv(summary)
    if fmt == "json":
        return json.dumps([m.get("diagnostics") for m in summary["members"]], indent=2)
    rows = [["member", "layer", "grad norm", "saturated", "dead", "act mean", "act std"]]
    clip_lines = []
    for m in summary["members"]:
        diag = m.get("diagnostics")
        if not diag:
            rows.append([m["activation"], "-", "-", "-", "-", "-", "-"])
            continue
        for i, layer in enumerate(diag["layers"], 1):
            rows.append(
                [
                    m["activation"] if i == 1 else "",
                    str(i),
                    _sci(layer["grad_norm"]),
                    _pct(layer["saturated_fraction"]),
                    _pct(layer["dead_fraction"]),
                    _fmt(layer["activation_mean"], 3),
                    _fmt(layer["activation_std"], 3),
                ]
            )
        rows.append(["", "out", _sci(diag.get("output_grad_norm")), "", "", "", ""])
        slopes = diag.get("prelu_slopes")
        if slopes:
            listed = ", ".join("-" if v is None else f"{v:.3f}" for v in slopes)
            clip_lines.append(f"{m['activation']}: learned slope per layer {listed}")
        clip = diag.get("clipping")
        if clip:
            clip_lines.append(
                f"{m['activation']}: clipped {_pct(clip['clipped_fraction_total'])} of steps; "
                f"recent pre-clip norm {clip['preclip_norm']:.3g} (max {clip['preclip_norm_max']:.3g}) "
                f"vs threshold {clip['threshold']:g}"
            )
    return as_text(rows, ["\n".join(clip_lines)] if clip_lines else [], fmt)


def diagnostics_csv(summary: dict[str, Any]) -> str:
    """One row per member and hidden layer (input side first), then its output layer ("out")."""
    rows: list[list[Any]] = [
        [
            "activation",
            "layer",
            "grad_norm",
            "saturated_fraction",
            "dead_fraction",
            "activation_mean",
            "activation_std",
        ]
    ]
    for m in summary["members"]:
        diag = m.get("diagnostics")
        if not diag:
            continue
        for i, layer in enumerate(diag["layers"], 1):
            rows.append(
                [
                    m["activation"],
                    i,
                    layer["grad_norm"],
                    layer["saturated_fraction"],
                    layer["dead_fraction"],
                    layer["activation_mean"],
                    layer["activation_std"],
                ]
            )
        rows.append([m["activation"], "out", diag.get("output_grad_norm"), None, None, None, None])
    return csv_text(rows)


def _sci(v: float | None) -> str:
    return "-" if v is None else f"{v:.2e}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def ratio_text(p: dict[str, Any] | None) -> str:
    """A member's paired speedup over seeds: geometric mean and 95% interval."""
    if p is None:
        return "baseline"
    if p["ratio_mean"] is None:
        return "-"
    if p["ratio_low"] is None:
        return f"x{p['ratio_mean']:.2f} (1 seed)"
    return f"x{p['ratio_mean']:.2f} [{p['ratio_low']:.2f}, {p['ratio_high']:.2f}]"


def aggregate_rows(agg: dict[str, Any]) -> list[list[str]]:
    members = agg["members"]
    n = agg["runs"]
    paired = agg.get("baseline") is not None
    rows: list[list[str]] = [[f"Function ({n} seeds)", *[m["activation"] for m in members]]]
    for k, t in enumerate(members[0]["thresholds"] if members else []):
        cells = []
        for m in members:
            tk = m["thresholds"][k]
            if tk["reached"] == 0:
                cells.append(f"not reached (0/{n})")
            else:
                spread = "" if tk["sustained_std"] is None else f" ± {tk['sustained_std']:.0f}"
                cells.append(f"{tk['sustained_mean']:.0f}{spread} ({tk['reached']}/{n})")
        rows.append([f"Iterations to reach {t['threshold']:g}", *cells])
        if paired:
            rows.append(["", *[ratio_text(m["thresholds"][k].get("vs_baseline")) for m in members]])
    cells = []
    for m in members:
        mean, std = m["final_accuracy_mean"], m["final_accuracy_std"]
        cells.append("-" if mean is None else f"{mean:.4f}" + ("" if std is None else f" ± {std:.4f}"))
    rows.append(["Final accuracy", *cells])
    rows.append(["Diverged", *[f"{m['diverged']}/{n}" for m in members]])
    return rows


def aggregate_notes(agg: dict[str, Any]) -> list[str]:
    """The footnote and one sentence per member and threshold against the baseline."""
    foot = f"sustained crossing, mean ± standard deviation over seeds {agg['seeds']}"
    if agg.get("baseline") is not None:
        foot += (
            f"; below it the speedup vs {agg['baseline']} paired by seed: geometric mean and 95% "
            "t interval of the per-seed ratios, over the seeds where both reached the threshold "
            "(clear when the interval excludes 1)"
        )
    statements = [
        tk["vs_baseline"]["statement"]
        for m in agg["members"]
        for tk in m["thresholds"]
        if tk.get("vs_baseline") is not None
    ]
    return [foot + "."] + (["\n".join(statements)] if statements else [])


def aggregate_table(agg: dict[str, Any], fmt: str = "table") -> str:
    """Mean ± standard deviation over seeds per member, and the paired speedups with their
    95% intervals and statements."""
    if fmt == "csv":
        return aggregate_csv(agg)
    if fmt == "json":
        return json.dumps(agg, indent=2)
    return as_text(aggregate_rows(agg), aggregate_notes(agg), fmt)


def aggregate_csv(agg: dict[str, Any]) -> str:
    """One row per member and threshold: spread over seeds and the paired speedup."""
    pairs = ["faster", "slower", "tie", "neither", "paired", "ratio_mean", "ratio_low", "ratio_high", "clear"]
    rows: list[list[Any]] = [
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
            *pairs,
        ]
    ]
    for m in agg["members"]:
        for tk in m["thresholds"]:
            p = tk.get("vs_baseline") or {}
            rows.append(
                [
                    m["activation"],
                    tk["threshold"],
                    agg["runs"],
                    tk["reached"],
                    tk["sustained_mean"],
                    tk["sustained_std"],
                    m["final_accuracy_mean"],
                    m["final_accuracy_std"],
                    m["diverged"],
                    agg.get("baseline"),
                    *[p.get(name) for name in pairs],
                ]
            )
    return csv_text(rows)


# ------------------------------------------------------------------------------ sweeps


def _point_cell(m: dict[str, Any], k: int, seeds: int) -> str:
    t = m["thresholds"][k]
    if t["reached"] == 0:
        return "-"
    spread = "" if t["sustained_std"] is None else f"±{t['sustained_std']:.0f}"
    part = "" if t["reached"] == seeds else f" ({t['reached']}/{seeds})"
    return f"{t['sustained_mean']:.0f}{spread}{part}"


def sweep_rows(results: dict[str, Any]) -> list[list[str]]:
    """One row per point and activation: iterations to each threshold (mean ± sd over seeds,
    (reached/seeds) when not all did), final accuracy, and the paired speedup against the
    baseline at the highest threshold."""
    axes = [n for n, _ in results["axes"]]
    seeds = len(results["seeds"])
    thresholds = results["thresholds"]
    # the paired speedup at the threshold the heatmap uses: the highest one reached somewhere
    shown = (results.get("heatmap") or {}).get("threshold")
    top = thresholds.index(shown) if shown in thresholds else len(thresholds) - 1
    head = [*axes, "activation", *[f"to {t:g}" for t in thresholds], "final acc"]
    paired = seeds > 1
    if paired:
        head.append(f"vs {results['baseline']} at {thresholds[top]:g}")
    rows = [head]
    for p in results["points"]:
        values = [value_text(p["values"][n]) for n in axes]
        agg = p["aggregate"]
        if agg is None:
            rows.append([*values, "(unfinished)", *[""] * (len(head) - len(values) - 1)])
            continue
        for m in agg["members"]:
            mean, std = m["final_accuracy_mean"], m["final_accuracy_std"]
            final = "-" if mean is None else f"{mean:.4f}" + ("" if std is None else f"±{std:.4f}")
            if m["diverged"]:
                final += f" ({m['diverged']} diverged)"
            row = [
                *values,
                m["activation"],
                *[_point_cell(m, k, seeds) for k in range(len(thresholds))],
                final,
            ]
            if paired:
                row.append(ratio_text(m["thresholds"][top].get("vs_baseline")))
            rows.append(row)
    return rows


def heatmap_rows(results: dict[str, Any]) -> tuple[list[list[str]], str] | None:
    """The which-wins-where grid as rows, and its caption."""
    h = results.get("heatmap")
    if not h:
        return None
    seeds = len(results["seeds"])
    rows = [["", *[f"{h['column_axis']}={value_text(v)}" for v in h["columns"]]]]
    for r in h["rows"]:
        name = ",".join(f"{n}={value_text(v)}" for n, v in r["values"].items())
        cells = []
        for c in r["cells"]:
            if c["state"] == "unfinished":
                cells.append("(unfinished)")
            elif c["winner"] is None:
                cells.append("-")
            else:
                cells.append(f"{c['winner']} {c['iterations']:.0f}")
        rows.append([name, *cells])
    if h["threshold"] is None:
        caption = "Which activation wins where: no activation reached a threshold in every seed at any point."
    else:
        over = f"mean over {seeds} seeds" if seeds > 1 else "one seed"
        caption = (
            f"Which activation wins where: the fewest iterations to {h['threshold']:g} test accuracy "
            f"(sustained; {over}; - : none reached it in every seed)."
        )
    return rows, caption


def best_lr_rows(results: dict[str, Any]) -> list[list[str]] | None:
    best = results.get("best_lr")
    if not best:
        return None
    others = [n for n in best[0]["values"]]
    shared = best[0]["shared_lr"]
    rows = [
        [*others, "activation", "best lr", "threshold", "iterations", "final acc",
         f"at lr={value_text(shared)}: iterations", "final acc"]
    ]  # fmt: skip
    for b in best:
        rows.append(
            [
                *[value_text(b["values"][n]) for n in others],
                b["activation"],
                value_text(b["best_lr"]),
                "-" if b["threshold"] is None else f"{b['threshold']:g}",
                _fmt(b["iterations"], 0),
                _fmt(b["final_accuracy"], 4),
                _fmt(b["shared_iterations"], 0),
                _fmt(b["shared_final_accuracy"], 4),
            ]
        )
    return rows


def sweep_statements(results: dict[str, Any]) -> list[str]:
    """Every point's paired statements (seeds > 1), prefixed by the point."""
    out = []
    for p in results["points"]:
        agg = p["aggregate"]
        if agg is None or agg["runs"] < 2:
            continue
        for m in agg["members"]:
            for t in m["thresholds"]:
                p_k = t.get("vs_baseline")
                if p_k is not None and p_k["neither"] < p_k["seeds"]:  # something to say
                    where = f"{p['name']}: " if p["name"] else ""
                    out.append(where + t["vs_baseline"]["statement"])
    return out


SWEEP_FOOT = (
    "Iterations to each threshold: sustained crossing, mean ± sd over seeds {seeds}; (n/{n}): "
    "only n seeds reached it."
)
BEST_LR_NOTE = (
    "Each activation at its own best learning rate: fewest iterations to the highest "
    "threshold it reaches in every seed, ties by final accuracy; beside it the shared lr."
)


def sweep_sections(results: dict[str, Any], fmt: str = "table") -> dict[str, str]:
    """The parts of a sweep's text (table or md), by name, in order: "points" (the table per
    point and activation), "heatmap" (which activation wins where, with its caption),
    "best_lr", "statements" (the paired statements, a list) and "unfinished"; a part the
    sweep has nothing for is left out. `sweep_text` joins them; a report puts each under
    its own heading."""
    seeds = results["seeds"]
    foot = SWEEP_FOOT.format(seeds=seeds, n=len(seeds))
    parts = {"points": as_text(sweep_rows(results), [foot], fmt, left=len(results["axes"]) + 1)}
    grid = heatmap_rows(results)
    if grid is not None:
        parts["heatmap"] = as_text(grid[0], [], fmt) + "\n\n" + grid[1]
    best = best_lr_rows(results)
    if best is not None:
        parts["best_lr"] = as_text(best, [BEST_LR_NOTE], fmt, left=len(best[0]) - 6)
    statements = sweep_statements(results)
    if statements:
        parts["statements"] = "\n".join(("- " if fmt == "md" else "  ") + s for s in statements)
    if not results["complete"]:
        parts["unfinished"] = "Unfinished points: actlab-tui --batch --resume <this directory> trains them."
    return parts


def sweep_text(results: dict[str, Any], fmt: str = "table") -> str:
    """A sweep: the table per point and activation, which activation wins where, each
    activation at its best learning rate, and the paired statements."""
    if fmt == "json":
        return json.dumps(results, indent=2)
    if fmt == "csv":
        return csv_text(sweep_rows(results))
    parts = sweep_sections(results, fmt)
    if "statements" in parts:
        title = "**Paired by seed**" if fmt == "md" else "Paired by seed (95% t interval of per-seed ratios):"
        parts["statements"] = (
            f"{title}\n\n{parts['statements']}" if fmt == "md" else f"{title}\n{parts['statements']}"
        )
    return "\n\n".join(parts.values())


def seeds_text(agg: dict[str, Any], summaries: list[dict[str, Any]], fmt: str) -> str:
    """What a run of several seeds prints: each seed's table, then the aggregate with the paired
    statements; csv is the aggregate's figures alone (each seed's are in its summary.csv)."""
    if fmt == "json":
        return json.dumps({"aggregate": agg, "runs": summaries}, indent=2)
    if fmt == "csv":
        return aggregate_table(agg, "csv")
    title = "**seed {}**\n\n" if fmt == "md" else "seed {}\n"
    parts = [title.format(s["config"]["seed"]) + threshold_table(s, fmt) for s in summaries]
    return "\n\n".join([*parts, aggregate_table(agg, fmt)])
