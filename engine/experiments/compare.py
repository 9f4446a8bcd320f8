"""`actlab-tui compare DIR...`: saved runs side by side.

One table of every run's members (labelled by run) and the settings that differ between the
runs (their accuracy curves on one text chart are drawn by `actlab.tui.compare`). Reads runs
only through `replay`, which checks every line, so a foreign or corrupt directory is one
ResultsError (one line, exit 2). Loads no PyTorch.

A directory of several runs stands for them (`Collection`): a sweep (sweep.json with axes)
for every point's seeds ("lr=0.1,depth=2/seed-0"), a `--seeds` directory (sweep.json without
axes) and a sweep's point (seed-S/ runs beside aggregate.json, or below a sweep.json) for their
seeds. Given alone, it is also summarized: a sweep's tables, or the aggregate over the seeds.
A damaged sweep.json is one SweepError, a damaged summary one ResultsError.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actlab.engine.events import Evaluation, Event
from actlab.engine.experiments.report import (
    THRESHOLD_CSV_COLUMNS,
    as_text,
    crossing_text,
    csv_text,
    setting_text,
    status_text,
    threshold_csv_rows,
)
from actlab.engine.experiments.report_sweeps import aggregate_table, sweep_text
from actlab.engine.experiments.results import replay
from actlab.engine.experiments.store import ResultsError
from actlab.engine.experiments.sweep_dir import load_plan, run_summary
from actlab.engine.experiments.sweep_plan import PLAN_FILE
from actlab.engine.experiments.sweep_results import sweep_results
from actlab.engine.metrics import aggregate


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
    names = [_name(_real(d)) for d in directories]
    return [n if names.count(n) == 1 else d for n, d in zip(names, directories)]


def _real(path: str | Path) -> Path:
    """The path with its links followed, as far as they lead: a link loop (`ln -s x x`) stays
    as it is, for the reader to refuse in one line (Path.resolve raises RuntimeError on it)."""
    return Path(os.path.realpath(path))


def _seed_dirs(d: Path) -> list[Path]:
    subs = [p for p in d.glob("seed-*") if p.is_dir() and p.name[5:].lstrip("-").isdigit()]
    return sorted(subs, key=lambda p: int(p.name[5:]))


def _name(path: Path) -> str:
    """A run's folder name; a seed's sub-run with its parent's (tanh-relu/seed-0)."""
    if path.name.startswith("seed-") and (path.parent / "aggregate.json").is_file():
        return f"{path.parent.name}/{path.name}"
    return path.name or str(path)


@dataclass
class Collection:
    """A directory that stands for several runs: a sweep, a `--seeds` directory or one
    point of a sweep. `runs` are (directory, label), points in the plan's order, seeds in
    order; `missing` the runs the plan has that are not there (not started yet)."""

    kind: str  # "sweep", "seeds" or "point"
    directory: str
    runs: list[tuple[str, str]]
    missing: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return _real(self.directory).name or self.directory

    def results(self) -> dict[str, Any]:
        """A sweep's results (sweep_results.sweep_results: every point over its seeds, the
        heatmap, the best-lr view), read from the stored summaries."""
        root = Path(self.directory)
        return sweep_results(root, load_plan(root))

    def summaries(self) -> list[dict[str, Any]]:
        """The stored summaries of the finished runs (seeds and points: its seeds)."""
        out = []
        for d, _ in self.runs:
            s = run_summary(Path(d), "")
            if s is not None and s.get("status") == "done":
                out.append(s)
        return out

    def aggregate(self) -> dict[str, Any] | None:
        """Seeds and points: the finished seeds' aggregate (None when none has finished)."""
        done = self.summaries()
        return aggregate(done) if done else None


def open_collection(directory: str) -> Collection | None:
    """The runs a sweep, seeds or point directory stands for; None for any other directory
    (a run, or something `replay` will refuse)."""
    d = Path(directory)
    if (d / "events.jsonl").exists() or not d.is_dir():
        return None
    if (d / PLAN_FILE).is_file():
        plan = load_plan(d)  # damaged or edited: SweepError
        kind = "sweep" if plan.axes else "seeds"
        runs: list[tuple[str, str]] = []
        missing = []
        for point in plan.points:
            for seed in plan.seeds:
                rel = point.run_dir(seed)
                label = rel if point.name else f"{_name(_real(d))}/{rel}"
                if (d / rel).is_dir():
                    runs.append((str(d / rel), label))
                else:
                    missing.append(rel)
        collection = Collection(kind, directory, runs, missing)
    else:
        seeds = _seed_dirs(d)
        if not seeds or not ((d / "aggregate.json").is_file() or (d.parent / PLAN_FILE).is_file()):
            return None
        point = _name(_real(d))
        collection = Collection("point", directory, [(str(p), f"{point}/{p.name}") for p in seeds])
    if not collection.runs:
        raise ResultsError(f"{directory}: a {collection.kind} directory with no run yet")
    return collection


def expand(directory: str) -> tuple[list[tuple[str, str]], Collection | None]:
    """The runs a directory stands for, (directory, label) each, and its collection (None
    for a single run)."""
    collection = open_collection(directory)
    if collection is not None:
        return collection.runs, collection
    return [(directory, _name(_real(directory)))], None


def load_comparison(directories: list[str]) -> tuple[list[SavedRun], Collection | None]:
    """Every run the directories stand for (labels that collide: the path instead), and the
    collection when a single sweep, seeds or point directory is given alone."""
    pairs: list[tuple[str, str]] = []
    collections = []
    for d in directories:
        runs, collection = expand(d)
        pairs += runs
        collections.append(collection)
    labels = [label for _, label in pairs]
    unique = [label if labels.count(label) == 1 else d for d, label in pairs]
    runs_ = [load_run(d, label) for (d, _), label in zip(pairs, unique)]
    return runs_, collections[0] if len(directories) == 1 else None


def load_runs(directories: list[str]) -> list[SavedRun]:
    return load_comparison(directories)[0]


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
    """A column per run, a row per setting; with more than TRANSPOSE_AFTER runs (a sweep's),
    a row per run and a column per setting instead, so that the table stays narrow."""
    if len(runs) > TRANSPOSE_AFTER:
        return [
            ["run", *diff],
            *[[r.label, *(setting_text(v[i]) for v in diff.values())] for i, r in enumerate(runs)],
        ]
    return [["setting", *[r.label for r in runs]], *[[k, *map(setting_text, v)] for k, v in diff.items()]]


TRANSPOSE_AFTER = 4


# ------------------------------------------------------------------------- output


def compare_text(runs: list[SavedRun], fmt: str, collection: Collection | None = None) -> str:
    """The members table and the settings that differ, in one of report.FORMATS; csv is the
    members' figures alone (one row per run, member and threshold). With a `collection`
    (a sweep, seeds or point directory given alone), its summary follows: the sweep's tables
    or the aggregate over the seeds (json: under "sweep" or "aggregate"; csv: left out, as
    `--batch --open DIR --format csv` prints it)."""
    diff = differences(runs)
    if fmt == "json":
        data: dict[str, Any] = {
            "runs": [{"label": r.label, "directory": r.directory, "summary": r.summary} for r in runs],
            "differences": diff,
        }
        if collection is not None and collection.kind == "sweep":
            data["sweep"] = collection.results()
        elif collection is not None:
            data["aggregate"] = collection.aggregate()
        return json.dumps(data, indent=2)
    if fmt == "csv":
        rows: list[list[Any]] = [["run", "directory", *THRESHOLD_CSV_COLUMNS]]
        for r in runs:
            rows += [[r.label, r.directory, *row] for row in threshold_csv_rows(r.summary)]
        return csv_text(rows)
    foot = "iterations to each threshold: sustained crossing (first crossing in parentheses)"
    text = as_text(member_rows(runs), [foot], fmt, left=2)
    if len(runs) >= 2:
        if not diff:
            text += "\n\nsettings: the same in every run"
        else:
            title = "**Settings that differ**" if fmt == "md" else "settings that differ:"
            rows = difference_rows(runs, diff)
            left = len(rows[0]) if len(runs) > TRANSPOSE_AFTER else 1
            text += "\n\n" + title + "\n\n" + as_text(rows, [], fmt, left=left)
    if collection is not None:
        text += "\n\n" + collection_text(collection, fmt)
    return text


def collection_text(collection: Collection, fmt: str) -> str:
    """A sweep's tables (per point, which wins where, best lr, paired statements), or the
    aggregate of a seeds or point directory over its finished seeds, under a title (table, md)."""
    md = fmt == "md"
    if collection.kind == "sweep":
        results = collection.results()
        axes = " x ".join(n for n, _ in results["axes"])
        seeds = ", ".join(map(str, results["seeds"]))
        points = len(results["points"])
        head = f"{collection.name}: a sweep of {points} points ({axes}), seeds {seeds}"
        return (f"**{head}**" if md else head + ":") + "\n\n" + sweep_text(results, fmt)
    agg = collection.aggregate()
    what = "seeds" if collection.kind == "seeds" else "sweep point"
    head = f"{collection.name}: the {what} over its seeds"
    if agg is None:
        return head + ": no seed has finished yet"
    return (f"**{head}**" if md else head + ":") + "\n\n" + aggregate_table(agg, fmt)
