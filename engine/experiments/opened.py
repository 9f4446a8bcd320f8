"""What a results directory holds, told in one place: a run, a seeds directory, a sweep's
point or a sweep.

`open_results(dir)` looks at the directory and says which, so that `--open`, `--batch
--open`, `compare` and `report` agree on it: a directory with an `events.jsonl` is a run; one
with a `sweep.json` is a sweep (the plan has axes) or a `--seeds` directory (it has none); one
with `seed-S/` runs beside an `aggregate.json`, or below a parent's `sweep.json`, is a sweep's
point. Anything else, or a damaged plan, is one line (ResultsError or SweepError: exit 2).

Opening reads only the plan and lists the runs; what each kind sums up to (a run's summary
replayed from its stream, the seeds' stored summaries and their aggregate, a sweep's results)
is read when first asked for, so that `compare A B` reads no more than it shows. Every kind
knows its runs as (directory, label), which is how `compare` stands a directory for its runs.
No PyTorch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import ClassVar, Literal, NamedTuple, Self

from actlab.engine import metrics
from actlab.engine.events import Event, Listener
from actlab.engine.results_model import Aggregate, Summary, SweepResults

from .results import replay
from .store import ResultsError, why_not_a_directory
from .sweep_dir import load_plan, run_summary
from .sweep_plan import PLAN_FILE, Plan
from .sweep_results import sweep_results

AGGREGATE_FILE = "aggregate.json"


class StoredRun(NamedTuple):
    """A run a directory stands for: where it is, and how `compare` labels it."""

    directory: str
    label: str


def _ignore(event: Event) -> None:
    pass


@dataclass
class OpenedRun:
    """A single run (events.jsonl): replayed when its summary or curves are wanted."""

    directory: str
    kind: ClassVar[Literal["run"]] = "run"

    @property
    def name(self) -> str:
        return _name(_real(self.directory))

    @property
    def stored_runs(self) -> list[StoredRun]:
        return [StoredRun(self.directory, self.name)]

    def replay(self, listener: Listener = _ignore) -> Summary:
        """Its stream, every line checked, fed to `listener`; the summary it adds up to."""
        return replay(self.directory, listener)


@dataclass
class OpenedSeeds:
    """One comparison repeated over seeds: a `--seeds` directory, or one point of a sweep.
    `seeds` are those planned (a point found without its plan: the seed-S/ found), `runs`
    those started (seed -> its run directory), in seed order."""

    directory: str
    kind: Literal["seeds", "point"]
    seeds: list[int]
    runs: dict[int, str]

    @property
    def name(self) -> str:
        return _real(self.directory).name or self.directory

    @property
    def missing(self) -> list[int]:
        """The seeds not started yet."""
        return [s for s in self.seeds if s not in self.runs]

    @property
    def stored_runs(self) -> list[StoredRun]:
        name = _name(_real(self.directory))
        return [StoredRun(d, f"{name}/{Path(d).name}") for d in self.runs.values()]

    @cached_property
    def summaries(self) -> list[Summary]:
        """The stored summaries of the seeds that have one, in seed order (checked when read)."""
        found = (run_summary(Path(d), "") for d in self.runs.values())
        return [s for s in found if s is not None]

    @cached_property
    def aggregate(self) -> Aggregate:
        """The aggregate over every seed with a result, finished or not (what `--open` shows)."""
        summaries = self.summaries
        if not summaries:
            raise ResultsError(f"{self.directory}: no seed has a result yet")
        return self._aggregate(summaries)

    def finished_aggregate(self) -> Aggregate | None:
        """The aggregate over the seeds that finished (status done), None when none has (what
        `compare` and `report` show)."""
        done = [s for s in self.summaries if s.status == "done"]
        return self._aggregate(done) if done else None

    def _aggregate(self, summaries: list[Summary]) -> Aggregate:
        """Over `summaries`, which must be repeats of one comparison: seeds that compare other
        members or thresholds are one ResultsError (a damaged or foreign directory)."""
        reason = metrics.comparable(summaries)
        if reason is not None:
            raise ResultsError(
                f"{self.directory}: its seeds do not compare the same thing ({reason}); not one seeds run"
            )
        return metrics.aggregate(summaries)

    def read(self) -> Self:
        """Read now what is otherwise read when first asked for: the summaries and their
        aggregate (a damaged one raises here)."""
        _ = self.aggregate
        return self


@dataclass
class OpenedSweep:
    """A sweep: its plan, the runs started (every point's seeds, in the plan's order) and
    those not started yet (their directories relative to the sweep's)."""

    directory: str
    plan: Plan
    runs: list[StoredRun]
    missing: list[str]
    kind: ClassVar[Literal["sweep"]] = "sweep"

    @property
    def name(self) -> str:
        return _real(self.directory).name or self.directory

    @property
    def stored_runs(self) -> list[StoredRun]:
        return self.runs

    @cached_property
    def results(self) -> SweepResults:
        """Every point over its seeds, the heatmap and the best-lr view, from the stored
        summaries (checked when read)."""
        return sweep_results(Path(self.directory), self.plan)

    def read(self) -> Self:
        """Read now what is otherwise read when first asked for: the results (a damaged
        summary raises here)."""
        _ = self.results
        return self

    def point_dir(self, index: int) -> str:
        return str(Path(self.directory) / self.plan.points[index].name)


Collection = OpenedSeeds | OpenedSweep  # a directory that stands for several runs
Opened = OpenedRun | Collection


def open_results(directory: str) -> Opened:
    """What `directory` holds (see the module's docstring); reads the plan, if any, and looks
    at which runs are there. A directory of none of these kinds is one ResultsError, a
    damaged or edited plan one SweepError."""
    d = Path(directory)
    if not d.is_dir():
        what = why_not_a_directory(d)
        raise ResultsError(f"{directory}: {what}; expected an actlab run, sweep or seeds directory")
    if (d / "events.jsonl").exists():
        return OpenedRun(directory)
    if (d / PLAN_FILE).is_file():
        plan = load_plan(d)
        if not plan.axes:
            return seeds_at(directory, "seeds", plan.seeds)
        runs: list[StoredRun] = []
        missing: list[str] = []
        for point in plan.points:
            for seed in plan.seeds:
                rel = point.run_dir(seed)
                if _started(d / rel):
                    runs.append(StoredRun(str(d / rel), rel))
                else:
                    missing.append(rel)
        return OpenedSweep(directory, plan, runs, missing)
    found = _seed_dirs(d)
    if found and ((d / AGGREGATE_FILE).is_file() or (d.parent / PLAN_FILE).is_file()):
        started = {s: run for s, run in found.items() if _started(Path(run))}
        return OpenedSeeds(directory, "point", list(found), started)
    raise ResultsError(
        f"{directory}: not an actlab run, sweep or seeds directory "
        f"(no events.jsonl here, nor {PLAN_FILE} or seed-S/ runs)"
    )


def seeds_at(directory: str, kind: Literal["seeds", "point"], seeds: list[int]) -> OpenedSeeds:
    """The seeds directory (or sweep point) at `directory`, with `seeds` planned."""
    d = Path(directory)
    runs = {s: str(d / f"seed-{s}") for s in seeds if _started(d / f"seed-{s}")}
    return OpenedSeeds(directory, kind, list(seeds), runs)


def runs_of(opened: Opened) -> list[StoredRun]:
    """The runs a directory stands for, for the commands that read each of them; a sweep or
    seeds directory with none started yet is one ResultsError."""
    runs = opened.stored_runs
    if not runs:
        raise ResultsError(f"{opened.directory}: a {opened.kind} directory with no run yet")
    return runs


def _started(run: Path) -> bool:
    """Whether the run has begun: its stream is there (a directory left empty by a job that
    never started is not a run yet)."""
    return (run / "events.jsonl").exists()


def _real(path: str | Path) -> Path:
    """The path with its links followed, as far as they lead: a link loop (`ln -s x x`) stays
    as it is, for the reader to refuse in one line (Path.resolve raises RuntimeError on it)."""
    return Path(os.path.realpath(path))


def _seed_dirs(d: Path) -> dict[int, str]:
    """The seed-S/ directories in `d`: seed -> directory, in seed order."""
    found = [p for p in d.glob("seed-*") if p.is_dir() and p.name[len("seed-") :].lstrip("-").isdigit()]
    return {int(p.name[len("seed-") :]): str(p) for p in sorted(found, key=lambda p: int(p.name[5:]))}


def _name(path: Path) -> str:
    """A run's folder name; a seed's run with its parent's (tanh-relu/seed-0)."""
    if path.name.startswith("seed-") and (path.parent / AGGREGATE_FILE).is_file():
        return f"{path.parent.name}/{path.name}"
    return path.name or str(path)
