"""`actlab-tui compare DIR...`: saved runs side by side.

One table of every run's members (labelled by run) and the settings that differ between the
runs (their accuracy curves on one text chart are drawn by `actlab.tui.compare`). What each
directory holds is told by `opened.open_results` (a foreign one is one ResultsError: one line,
exit 2), and a run is read through `replay`, which checks every line. Loads no PyTorch.

A directory of several runs stands for them (`opened.open_results` tells which): a sweep
for every point's seeds ("lr=0.1,depth=2/seed-0"), a `--seeds` directory and a sweep's point
for their seeds. Given alone, it is also summarized: a sweep's tables, or the aggregate over
the finished seeds. A damaged sweep.json is one SweepError, a damaged summary one ResultsError.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TypedDict

from actlab.engine.events import ConfigDict, Evaluation, Event
from actlab.engine.experiments.report import (
    THRESHOLD_CSV_COLUMNS,
    as_text,
    csv_text,
    member_figures,
    setting_text,
    threshold_csv_rows,
)
from actlab.engine.experiments.report_sweeps import aggregate_table, sweep_text
from actlab.engine.experiments.results import replay
from actlab.engine.results_model import ComparedRun, Comparison, Summary

from .opened import Collection, OpenedRun, OpenedSeeds, OpenedSweep, StoredRun, open_results, runs_of
from .store import ResultsError


@dataclass
class SavedRun:
    """A run directory read back: its summary and each member's accuracy curve."""

    label: str
    directory: str
    summary: Summary
    iterations: list[int] = field(default_factory=list)
    accuracy: list[list[float | None]] = field(default_factory=list)  # per evaluation, per member
    train_loss: list[list[float | None]] = field(default_factory=list)  # per evaluation, per member

    def curve(self, member: int, measure: str = "accuracy") -> tuple[list[int], list[float]]:
        """(iterations, values) of one member's test accuracy (or training loss: `measure`
        "loss"), without the evaluations after it diverged."""
        values = self.accuracy if measure == "accuracy" else self.train_loss
        points = [(it, v[member]) for it, v in zip(self.iterations, values)]
        kept = [(it, a) for it, a in points if a is not None and math.isfinite(a)]
        return [it for it, _ in kept], [a for _, a in kept]

    @property
    def config(self) -> ConfigDict:
        return config_of(self.summary, self.directory)


@dataclass
class Band:
    """One member over seeds: its mean at each evaluation every seed has, with the lowest and
    the highest seed (a seed whose member diverged ends the band)."""

    iterations: list[int]
    mean: list[float]
    low: list[float]
    high: list[float]


def band(runs: list[SavedRun], member: int, measure: str = "accuracy") -> Band:
    """Member `member` over `runs` (its seeds) as a mean with a min-max band; for the loss
    (`measure` "loss"), the geometric mean (the chart is logarithmic)."""
    curves = [dict(zip(*r.curve(member, measure))) for r in runs]
    common = sorted(set.intersection(*(set(c) for c in curves))) if curves else []
    values = [[c[it] for c in curves] for it in common]
    if measure == "loss":
        values = [[v for v in vs if v > 0] or [math.nan] for vs in values]
        mean = [math.exp(sum(math.log(v) for v in vs) / len(vs)) for vs in values]
    else:
        mean = [sum(vs) / len(vs) for vs in values]
    return Band(common, mean, [min(v) for v in values], [max(v) for v in values])


def load_run(directory: str, label: str) -> SavedRun:
    iterations: list[int] = []
    accuracy: list[list[float | None]] = []
    loss: list[list[float | None]] = []

    def listen(event: Event) -> None:
        if isinstance(event, Evaluation):
            iterations.append(event.iteration)
            accuracy.append(event.accuracy)
            loss.append(event.train_loss)

    return SavedRun(label, directory, replay(directory, listen), iterations, accuracy, loss)


def config_of(summary: Summary, directory: str = "") -> ConfigDict:
    """A replayed run's settings (its stream starts with them, so a summary has them)."""
    if summary.config is None:
        raise ResultsError(f"{directory or 'a run'}: the run's summary has no settings")
    return summary.config


def expand(directory: str) -> tuple[list[StoredRun], Collection | None]:
    """The runs a directory stands for, (directory, label) each, and its collection (None
    for a single run)."""
    opened = open_results(directory)
    runs = runs_of(opened)
    return runs, None if isinstance(opened, OpenedRun) else opened


def load_comparison(directories: list[str]) -> tuple[list[SavedRun], Collection | None]:
    """Every run the directories stand for (labels that collide: the path instead), and the
    collection when a single sweep, seeds or point directory is given alone."""
    pairs: list[StoredRun] = []
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
        for t in r.config["thresholds"]:
            if float(t) not in seen:
                seen.append(float(t))
    return sorted(seen)


def member_rows(runs: list[SavedRun]) -> list[list[str]]:
    """A row per run and member, its cells from the threshold table's model
    (`report.member_figures`): the same figures the run's own table shows."""
    thresholds = thresholds_of(runs)
    rows = [["run", "member", *[f"to {t:g}" for t in thresholds], "final acc", "s/epoch", "status"]]
    for r in runs:
        for i, f in enumerate(member_figures(r.summary)):
            crossings = [f.crossing_at(t) for t in thresholds]
            rows.append(
                [
                    r.label if i == 0 else "",
                    f.activation,
                    *["not tracked" if c is None else c.text for c in crossings],
                    f.final.text,
                    f.lockstep.text,
                    f.status.text,
                ]
            )
    return rows


# ------------------------------------------------------------------------- the settings that differ

# what a run actually used where it may differ from its setting
UsedSettings = TypedDict(
    "UsedSettings", {"dataset used": str | None, "device used": str | None, "evaluated every": int | None}
)


class RunSettings(ConfigDict, UsedSettings):
    """A run's settings as `compare` lists them: its own, then what it actually used."""


def settings_of(summary: Summary, directory: str = "") -> RunSettings:
    """The run's settings (config.json, as stored in run_started), and what was actually used
    where it may differ from the setting: the dataset, the device and the evaluation cadence."""
    used: UsedSettings = {
        "dataset used": None if summary.dataset is None else summary.dataset["name"],
        "device used": summary.device,
        "evaluated every": summary.eval_every,
    }
    return {**config_of(summary, directory), **used}


def differences(runs: list[SavedRun]) -> dict[str, list[object]]:
    """Setting -> its value in each run, for the settings that are not the same in all."""
    settings = [settings_of(r.summary, r.directory) for r in runs]
    names: list[str] = []
    for s in settings:
        names += [k for k in s if k not in names]
    table = {name: [s.get(name) for s in settings] for name in names}
    return {k: v for k, v in table.items() if len({json.dumps(x, sort_keys=True) for x in v}) > 1}


def difference_rows(runs: list[SavedRun], diff: dict[str, list[object]]) -> list[list[str]]:
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


def comparison(runs: list[SavedRun], collection: Collection | None = None) -> Comparison:
    """What `compare --format json` prints: each run's summary, the settings that differ, and
    with a collection given alone its sweep's results or its aggregate over the finished
    seeds (null when none has finished)."""
    return Comparison(
        runs=[ComparedRun(r.label, r.directory, r.summary) for r in runs],
        differences=differences(runs),
        sweep=collection.results if isinstance(collection, OpenedSweep) else None,
        aggregate=collection.finished_aggregate() if isinstance(collection, OpenedSeeds) else None,
        over_seeds=isinstance(collection, OpenedSeeds),
    )


def compare_text(runs: list[SavedRun], fmt: str, collection: Collection | None = None) -> str:
    """The members table and the settings that differ, in one of report.FORMATS; csv is the
    members' figures alone (one row per run, member and threshold). With a `collection`
    (a sweep, seeds or point directory given alone), its summary follows: the sweep's tables
    or the aggregate over the seeds (json: under "sweep" or "aggregate"; csv: left out, as
    `--batch --open DIR --format csv` prints it)."""
    if fmt == "json":
        return json.dumps(comparison(runs, collection).to_json(), indent=2)
    if fmt == "csv":
        rows: list[list[object]] = [["run", "directory", *THRESHOLD_CSV_COLUMNS]]
        for r in runs:
            rows += [[r.label, r.directory, *row] for row in threshold_csv_rows(r.summary)]
        return csv_text(rows)
    diff = differences(runs)
    foot = "iterations to each threshold: sustained crossing (first crossing in parentheses)"
    text = as_text(member_rows(runs), [foot], fmt, left=2)
    if len(runs) >= 2:
        if not diff:
            text += "\n\nsettings: the same in every run"
        else:
            title = "**Settings that differ**" if fmt == "md" else "settings that differ:"
            table = difference_rows(runs, diff)
            left = len(table[0]) if len(runs) > TRANSPOSE_AFTER else 1
            text += "\n\n" + title + "\n\n" + as_text(table, [], fmt, left=left)
    if collection is not None:
        text += "\n\n" + collection_text(collection, fmt)
    return text


def collection_text(collection: Collection, fmt: str) -> str:
    """A sweep's tables (per point, which wins where, best lr, paired statements), or the
    aggregate of a seeds or point directory over its finished seeds, under a title (table, md)."""
    md = fmt == "md"
    if isinstance(collection, OpenedSweep):
        results = collection.results
        axes = " x ".join(n for n, _ in results.axes)
        seeds = ", ".join(map(str, results.seeds))
        points = len(results.points)
        head = f"{collection.name}: a sweep of {points} points ({axes}), seeds {seeds}"
        return (f"**{head}**" if md else head + ":") + "\n\n" + sweep_text(results, fmt)
    agg = collection.finished_aggregate()
    what = "seeds" if collection.kind == "seeds" else "sweep point"
    head = f"{collection.name}: the {what} over its seeds"
    if agg is None:
        return head + ": no seed has finished yet"
    return (f"**{head}**" if md else head + ":") + "\n\n" + aggregate_table(agg, fmt)
