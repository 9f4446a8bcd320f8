"""What `--open DIR` finds in DIR: a sweep, a seeds directory, or a single run.

A sweep directory holds `sweep.json` with axes; a seeds directory (`--seeds N` without
`--sweep`) holds `sweep.json` without axes, and a sweep's point holds `aggregate.json` and
its `seed-S/` runs without a plan of its own: both open as seeds. Anything with an
`events.jsonl` is a run, replayed in the lab as before. Everything here reads summaries
only (no PyTorch, no event streams), so it is quick enough to check before the app starts:
a foreign or damaged directory is one line (ResultsError or SweepError) and exit 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actlab.engine.metrics import aggregate

from .store import ResultsError
from .sweep_dir import load_plan, run_summary
from .sweep_plan import PLAN_FILE, Plan
from .sweep_results import sweep_results


@dataclass
class SavedSeeds:
    """One comparison repeated over seeds: each seed's run and the aggregate over them."""

    directory: str
    seeds: list[int]  # every seed planned (or found)
    runs: dict[int, str]  # seed -> its run directory, for the seeds that have a result
    summaries: list[dict[str, Any]]  # in seed order, the seeds that have a result
    aggregate: dict[str, Any]

    @property
    def missing(self) -> list[int]:
        return [s for s in self.seeds if s not in self.runs]


@dataclass
class SavedSweep:
    """A sweep: its plan and `sweep_results` (points, heatmap, best lr)."""

    directory: str
    plan: Plan
    results: dict[str, Any]

    def point_dir(self, index: int) -> str:
        name = self.plan.points[index].name
        return str(Path(self.directory) / name)


Saved = SavedSweep | SavedSeeds


def _seed_dirs(root: Path) -> list[int]:
    seeds = []
    for p in root.glob("seed-*"):
        tail = p.name[len("seed-") :]
        if p.is_dir() and tail.lstrip("-").isdigit():
            seeds.append(int(tail))
    return sorted(seeds)


def load_saved(directory: str) -> Saved | None:
    """The sweep or seeds directory at `directory`; None when it is a run (the lab replays
    it). A directory that is none of these, or a damaged one, raises one line."""
    root = Path(directory)
    if not root.is_dir():
        what = "no such directory" if not root.exists() else "not a directory"
        raise ResultsError(f"{directory}: {what}; expected an actlab run, sweep or seeds directory")
    if (root / "events.jsonl").exists():
        return None
    if (root / PLAN_FILE).is_file():
        plan = load_plan(root)
        if not plan.axes:
            return load_seeds(directory, plan.seeds)
        try:
            return SavedSweep(directory, plan, sweep_results(root, plan))
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise ResultsError(f"{directory}: a point's summary.json is damaged ({exc!r})") from None
    if (root / "aggregate.json").is_file() and _seed_dirs(root):
        return load_seeds(directory, _seed_dirs(root))  # a sweep's point
    raise ResultsError(
        f"{directory}: not an actlab run, sweep or seeds directory "
        f"(no events.jsonl, {PLAN_FILE} or aggregate.json here)"
    )


def load_seeds(directory: str, seeds: list[int]) -> SavedSeeds:
    root = Path(directory)
    runs: dict[int, str] = {}
    summaries = []
    for seed in seeds:
        summary = run_summary(root, f"seed-{seed}")
        if summary is not None:
            runs[seed] = str(root / f"seed-{seed}")
            summaries.append(summary)
    if not summaries:
        raise ResultsError(f"{directory}: no seed has a result yet")
    names = [[m.get("activation") for m in s["members"]] for s in summaries]
    if any(n != names[0] for n in names):
        raise ResultsError(f"{directory}: its seeds compare different activations; not one seeds run")
    try:
        agg = aggregate(summaries)
    except (KeyError, TypeError, IndexError, ValueError) as exc:
        raise ResultsError(f"{directory}: a seed's summary.json is damaged ({exc!r})") from None
    return SavedSeeds(directory, list(seeds), runs, summaries, agg)
