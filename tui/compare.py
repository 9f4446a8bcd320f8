"""`actlab-tui compare DIR...`: saved runs side by side.

One table of every run's members (labelled by run), the settings that differ between the
runs, and their accuracy curves on one text chart. Reads runs only through `replay`, which
checks every line, so a foreign or corrupt directory is one ResultsError (one line, exit 2).
Loads no PyTorch.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actlab.engine.events import Evaluation, Event
from actlab.engine.report import (
    THRESHOLD_CSV_COLUMNS,
    as_text,
    crossing_text,
    csv_text,
    setting_text,
    status_text,
    threshold_csv_rows,
)
from actlab.engine.results import replay


@dataclass
class SavedRun:
    """A run directory read back: its summary and each member's accuracy curve."""

    label: str
    directory: str
    summary: dict[str, Any]
    iterations: list[int] = field(default_factory=list)
    accuracy: list[list[float | None]] = field(default_factory=list)  # per evaluation, per member

    def curve(self, member: int) -> tuple[list[int], list[float]]:
        """(iterations, accuracies) of one member, without the evaluations after it diverged."""
        points = [(it, acc[member]) for it, acc in zip(self.iterations, self.accuracy)]
        kept = [(it, a) for it, a in points if a is not None]
        return [it for it, _ in kept], [a for _, a in kept]


def load_run(directory: str, label: str) -> SavedRun:
    run = SavedRun(label, directory, {})

    def listen(event: Event) -> None:
        if isinstance(event, Evaluation):
            run.iterations.append(event.iteration)
            run.accuracy.append(event.accuracy)

    run.summary = replay(directory, listen)
    return run


def labels_for(directories: list[str]) -> list[str]:
    """Each run's folder name, or the path as given where two names collide."""
    names = [_name(Path(d).resolve()) for d in directories]
    return [n if names.count(n) == 1 else d for n, d in zip(names, directories)]


def expand_seeds(directory: str) -> list[str]:
    """A `--seeds N` directory (aggregate.json and seed-S/ sub-runs, no events.jsonl of its
    own) stands for its sub-runs, in seed order; any other directory for itself."""
    d = Path(directory)
    if (d / "events.jsonl").exists() or not (d / "aggregate.json").is_file():
        return [directory]
    subs = [p for p in d.glob("seed-*") if p.is_dir() and p.name[5:].lstrip("-").isdigit()]
    return [str(p) for p in sorted(subs, key=lambda p: int(p.name[5:]))] or [directory]


def _name(path: Path) -> str:
    """A run's folder name; a seed's sub-run with its parent's (tanh-relu/seed-0)."""
    if path.name.startswith("seed-") and (path.parent / "aggregate.json").is_file():
        return f"{path.parent.name}/{path.name}"
    return path.name or str(path)


def load_runs(directories: list[str]) -> list[SavedRun]:
    expanded = [run for d in directories for run in expand_seeds(d)]
    return [load_run(d, label) for d, label in zip(expanded, labels_for(expanded))]


# ------------------------------------------------------------------------- the members table


def thresholds_of(runs: list[SavedRun]) -> list[float]:
    """Every threshold any run tracked, in order."""
    seen: list[float] = []
    for r in runs:
        for t in r.summary["config"]["thresholds"]:
            if float(t) not in seen:
                seen.append(float(t))
    return sorted(seen)


def member_rows(runs: list[SavedRun]) -> list[list[str]]:
    thresholds = thresholds_of(runs)
    rows = [["run", "member", *[f"to {t:g}" for t in thresholds], "final acc", "s/epoch", "status"]]
    for r in runs:
        for i, m in enumerate(r.summary["members"]):
            by_threshold = {float(t["threshold"]): t for t in m["thresholds"]}
            cells = []
            for t in thresholds:
                tk = by_threshold.get(t)
                cells.append("not tracked" if tk is None else crossing_text(tk["first"], tk["sustained"]))
            final = m["final_accuracy"]
            epoch = m["epoch_time_s"]
            rows.append(
                [
                    r.label if i == 0 else "",
                    m["activation"],
                    *cells,
                    "-" if final is None else f"{final:.4f}",
                    "-" if epoch is None else f"{epoch:.4f}",
                    status_text(m),
                ]
            )
    return rows


# ------------------------------------------------------------------------- the settings that differ


def settings_of(summary: dict[str, Any]) -> dict[str, Any]:
    """The run's settings (config.json, as stored in run_started), and what was actually used
    where it may differ from the setting: the dataset, the device and the evaluation cadence."""
    dataset = summary.get("dataset") or {}
    return {
        **summary["config"],
        "dataset used": dataset.get("name"),
        "device used": summary.get("device"),
        "evaluated every": summary.get("eval_every"),
    }


def differences(runs: list[SavedRun]) -> dict[str, list[Any]]:
    """Setting -> its value in each run, for the settings that are not the same in all."""
    settings = [settings_of(r.summary) for r in runs]
    names: list[str] = []
    for s in settings:
        names += [k for k in s if k not in names]
    table = {name: [s.get(name) for s in settings] for name in names}
    return {k: v for k, v in table.items() if len({json.dumps(x, sort_keys=True) for x in v}) > 1}


def difference_rows(runs: list[SavedRun], diff: dict[str, list[Any]]) -> list[list[str]]:
    return [["setting", *[r.label for r in runs]], *[[k, *map(setting_text, v)] for k, v in diff.items()]]


# ------------------------------------------------------------------------- output


def compare_text(runs: list[SavedRun], fmt: str) -> str:
    """The members table and the settings that differ, in one of report.FORMATS; csv is the
    members' figures alone (one row per run, member and threshold)."""
    diff = differences(runs)
    if fmt == "json":
        return json.dumps(
            {
                "runs": [{"label": r.label, "directory": r.directory, "summary": r.summary} for r in runs],
                "differences": diff,
            },
            indent=2,
        )
    if fmt == "csv":
        rows: list[list[Any]] = [["run", "directory", *THRESHOLD_CSV_COLUMNS]]
        for r in runs:
            rows += [[r.label, r.directory, *row] for row in threshold_csv_rows(r.summary)]
        return csv_text(rows)
    foot = "iterations to each threshold: sustained crossing (first crossing in parentheses)"
    text = as_text(member_rows(runs), [foot], fmt, left=2)
    if len(runs) < 2:
        return text
    if not diff:
        return text + "\n\nsettings: the same in every run"
    title = "**Settings that differ**" if fmt == "md" else "settings that differ:"
    return text + "\n\n" + title + "\n\n" + as_text(difference_rows(runs, diff), [], fmt)


def accuracy_chart(runs: list[SavedRun], width: int, height: int, colour: bool) -> str:
    """Every member of every run on one plotext chart (test accuracy over iterations), the
    thresholds of the first run as grey lines; at most `width` points per curve."""
    import plotext as plt

    plt.clear_figure()
    plt.theme("clear")
    for r in runs:
        for i, m in enumerate(r.summary["members"]):
            xs, ys = r.curve(i)
            step = max(1, -(-len(xs) // max(1, width)))  # decimate to the canvas's columns
            if xs:
                plt.plot(xs[::step], ys[::step], label=f"{r.label}: {m['activation']}")
    for t in runs[0].summary["config"]["thresholds"]:
        plt.horizontal_line(float(t), color="gray")
    plt.ylim(0, 1)
    plt.title("test accuracy")
    plt.xlabel("iteration")
    plt.plotsize(width, height)
    text: str = plt.build()
    plt.clear_figure()
    return text if colour else plt.uncolorize(text)


def chart_size() -> tuple[int, int]:
    cols, lines = shutil.get_terminal_size((100, 30))
    return max(40, min(cols, 160)), max(12, min(lines - 4, 30))
