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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from actlab.engine.results_model import MemberSummary, Summary

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


def status_text(member: MemberSummary) -> str:
    if member.status == "diverged":
        return f"diverged at {member.diverged_at}"
    return str(member.status)


def value_text(v: object) -> str:
    """A swept value as names and tables show it: short (0.1, 1e-05, 0) where that reads back
    as the same number, else in full, so two values never share a name."""
    if isinstance(v, float):
        short = f"{v:g}"
        return short if float(short) == v else repr(v)
    return str(v)


def setting_text(value: object) -> str:
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


def fixed_text(v: float | None, digits: int) -> str:
    """A figure with `digits` decimals, "-" for none."""
    return "-" if v is None else f"{v:.{digits}f}"


# ------------------------------------------------------------------ the threshold table's model
#
# One model of the iterations-to-threshold table, laid out once: every view of it (the seed's
# layout as text and Markdown, csv, the app's live table, `compare`'s members table) takes its
# cells from here, so a figure reads the same wherever it is shown.


@dataclass(frozen=True)
class Cell:
    """One figure as the tables show it, and how the app marks it: "dim" (a threshold not
    held), "alert" (a diverged member)."""

    text: str
    mark: str = ""


@dataclass
class MemberFigures:
    """One member's figures in the threshold table; `member` holds the numbers behind them
    (csv and json print those)."""

    member: MemberSummary
    status: Cell
    final: Cell
    crossings: list[Cell]  # per threshold: the sustained crossing (first in parentheses)
    speedups: list[Cell]  # per threshold: against the baseline, on the sustained crossing
    alone: Cell  # s per epoch, this member alone
    relative: Cell  # that against relu's
    lockstep: Cell  # s per epoch of the whole cohort in lockstep

    @property
    def activation(self) -> str:
        return self.member.activation

    def crossing_at(self, threshold: float) -> Cell | None:
        """The crossing of `threshold`, None when this run did not track it."""
        for t, cell in zip(self.member.thresholds, self.crossings):
            if float(t.threshold) == float(threshold):
                return cell
        return None


def member_figures(summary: Summary) -> list[MemberFigures]:
    """The threshold table's figures, member by member."""
    out = []
    for m in summary.members:
        baseline = summary.is_baseline(m)
        out.append(
            MemberFigures(
                member=m,
                status=Cell(status_text(m), "alert" if m.status == "diverged" else ""),
                final=Cell(fixed_text(m.final_accuracy, 4)),
                crossings=[
                    Cell(crossing_text(t.first, t.sustained), "dim" if t.sustained is None else "")
                    for t in m.thresholds
                ],
                speedups=[Cell(speedup_text(t.speedup, baseline)) for t in m.thresholds],
                alone=Cell(fixed_text(m.epoch_time_alone_s, 4)),
                relative=Cell(_ratio(m.cost_vs_relu)),
                lockstep=Cell(fixed_text(m.epoch_time_s, 4)),
            )
        )
    return out


def threshold_rows(summary: Summary) -> list[list[str]]:
    """The seed's layout: a row per figure, a column per member (after the labels)."""
    figures = member_figures(summary)
    rows: list[list[str]] = [["Function", *[f.activation for f in figures]]]
    for k, th in enumerate(summary.thresholds):
        rows.append([f"Iterations to reach {th:g}"] + [f.crossings[k].text for f in figures])
        rows.append([""] + [f.speedups[k].text for f in figures])
    rows.append(["Final accuracy"] + [f.final.text for f in figures])
    if summary.validation_size:
        rows.append(
            ["Validation final accuracy"] + [fixed_text(f.member.val_final_accuracy, 4) for f in figures]
        )
    # the slides' row: each function's own epoch, timed alone (runs saved before that was
    # measured show "-"; the footer gives the shared lockstep figure)
    rows.append(["Training time of 1 epoch (s)"] + [f.alone.text for f in figures])
    if any(f.member.cost_vs_relu is not None for f in figures):
        rows.append(["  relative to relu"] + [f.relative.text for f in figures])
    rows.append(["Status"] + [f.status.text for f in figures])
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


# The one CSV writer: summary.csv and every `--format csv` table go through it, so a file and
# the table printed for the same run hold the same bytes. Lines end in LF, not the csv module's
# default CRLF (RFC 4180): the output goes to a terminal, to pipes (grep, cut, sort) and to files
# on POSIX systems, where a CR shows up as a stray "^M" or as part of the last cell; every CSV
# reader we expect (Python's csv, pandas, spreadsheets) accepts LF.
CSV_LINE_END = "\n"


def csv_text(rows: Sequence[Sequence[object]]) -> str:
    """Rows of cells as CSV (None as an empty cell), lines ending in CSV_LINE_END and no line
    end after the last row: a block like the other formats' text, which the caller ends (a file
    with CSV_LINE_END, stdout by echo's newline)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator=CSV_LINE_END)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    return out.getvalue().removesuffix(CSV_LINE_END)


def threshold_foot(summary: Summary) -> str:
    ds: Mapping[str, object] = summary.dataset or {}
    foot = (
        f"{ds.get('name')} ({ds.get('train_size')} train / {ds.get('test_size')} test), "
        f"device {summary.device}, evaluated every {summary.eval_every} iterations "
        f"on the whole test split; {summary.iterations} iterations, "
        f"{summary.iterations_per_epoch} per epoch; speedup vs {summary.baseline} "
        f"on the sustained crossing; {validation_foot(summary)}."
    )
    lockstep = summary.epoch_time_s
    cost = summary.cost_measurement
    cohort = summary.cohort
    if lockstep is not None:
        if cohort and cohort.get("members"):  # trained with other seeds or points: the time is the cohort's
            foot += (
                f"\nTraining time of 1 epoch of the whole cohort of {cohort['members']} members this run "
                f"was trained in (its seeds and points together, in lockstep): {lockstep:.4f} s"
            )
        else:
            n = len(summary.members)
            foot += f"\nTraining time of 1 epoch of all {n} members in lockstep: {lockstep:.4f} s"
        if cost:
            foot += (
                f"; each member alone: the fastest of {cost.rounds} interleaved rounds of "
                f"{cost.steps // max(1, cost.rounds)} step(s) ({fixed_text(cost.seconds, 2)} s)."
            )
        else:
            foot += "."
    return foot


def validation_foot(summary: Summary) -> str:
    """The run's validation split, for the footer: what it was, or that there was none."""
    size = summary.validation_size
    if size is None:
        return "validation split: not measured (a run of an older actlab)"
    if size == 0:
        return "no validation split (a single run chooses nothing: the slides' protocol)"
    seed = None if summary.dataset is None else summary.dataset.get("validation_seed")
    return (
        f"validation split: {size} images carved from the training split (seed {seed}), evaluated "
        "with the test split; choices are made on it, thresholds on test"
    )


def threshold_table(summary: Summary, fmt: str = "table") -> str:
    """The comparison as the seed prints it, with a line on how it was measured."""
    if fmt == "csv":
        return threshold_csv(summary)
    if fmt == "json":
        return summary_json(summary)
    return as_text(threshold_rows(summary), [threshold_foot(summary)], fmt)


def summary_json(summary: Summary) -> str:
    """summary.json's text (without the final newline a file gets)."""
    return json.dumps(summary.to_json(), indent=2)


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


def threshold_csv_rows(summary: Summary) -> list[list[object]]:
    """One row per member and threshold (the columns of THRESHOLD_CSV_COLUMNS), no header:
    the numbers behind the table's figures."""
    return [
        [
            m.activation,
            m.status,
            m.diverged_at,
            t.threshold,
            t.first,
            t.sustained,
            t.speedup,
            m.final_accuracy,
            m.epoch_time_s,
            m.epoch_time_alone_s,
        ]
        for m in summary.members
        for t in m.thresholds
    ]


def threshold_csv(summary: Summary) -> str:
    """The figures of the threshold table, as summary.csv holds them."""
    return csv_text([THRESHOLD_CSV_COLUMNS, *threshold_csv_rows(summary)])


def summary_text(summary: Summary, fmt: str = "table", diagnostics: bool = False) -> str:
    """What a single run prints: the threshold table, and with `diagnostics` the per-layer
    table after a blank line (in csv: a second CSV block); json is the summary, which holds both."""
    if fmt == "json":
        return summary_json(summary)
    text = threshold_table(summary, fmt)
    if diagnostics:
        text += "\n\n" + diagnostics_table(summary, fmt)
    return text


def diagnostics_table(summary: Summary, fmt: str = "table") -> str:
    """Per member and hidden layer: gradient norm, saturated and dead fractions, mean, std."""
    if fmt == "csv":
        return diagnostics_csv(summary)
    if fmt == "json":
        return json.dumps([m.diagnostics for m in summary.members], indent=2)
    rows = [["member", "layer", "grad norm", "saturated", "dead", "act mean", "act std"]]
    clip_lines = []
    for m in summary.members:
        diag = m.diagnostics
        if not diag:
            rows.append([m.activation, "-", "-", "-", "-", "-", "-"])
            continue
        for i, layer in enumerate(diag["layers"], 1):
            rows.append(
                [
                    m.activation if i == 1 else "",
                    str(i),
                    _sci(layer["grad_norm"]),
                    _pct(layer["saturated_fraction"]),
                    _pct(layer["dead_fraction"]),
                    fixed_text(layer["activation_mean"], 3),
                    fixed_text(layer["activation_std"], 3),
                ]
            )
        rows.append(["", "out", _sci(diag.get("output_grad_norm")), "", "", "", ""])
        slopes = diag.get("prelu_slopes")
        if slopes:
            listed = ", ".join("-" if v is None else f"{v:.3f}" for v in slopes)
            clip_lines.append(f"{m.activation}: learned slope per layer {listed}")
        clip = diag.get("clipping")
        if clip:
            clip_lines.append(
                f"{m.activation}: clipped {_pct(clip['clipped_fraction_total'])} of steps; "
                f"recent pre-clip norm {clip['preclip_norm']:.3g} (max {clip['preclip_norm_max']:.3g}) "
                f"vs threshold {clip['threshold']:g}"
            )
    return as_text(rows, ["\n".join(clip_lines)] if clip_lines else [], fmt)


def diagnostics_csv(summary: Summary) -> str:
    """One row per member and hidden layer (input side first), then its output layer ("out")."""
    rows: list[list[object]] = [
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
    for m in summary.members:
        diag = m.diagnostics
        if not diag:
            continue
        for i, layer in enumerate(diag["layers"], 1):
            rows.append(
                [
                    m.activation,
                    i,
                    layer["grad_norm"],
                    layer["saturated_fraction"],
                    layer["dead_fraction"],
                    layer["activation_mean"],
                    layer["activation_std"],
                ]
            )
        rows.append([m.activation, "out", diag.get("output_grad_norm"), None, None, None, None])
    return csv_text(rows)


def _sci(v: float | None) -> str:
    return "-" if v is None else f"{v:.2e}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"
