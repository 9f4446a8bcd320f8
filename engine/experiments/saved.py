"""What `--open DIR` shows: the app's sweep and seeds views, and `--batch --open`'s tables.

Both go through `opened.open_results`, the one place that tells a run from a sweep, a seeds
directory or a sweep's point. For the app, everything its view shows is read here, before
the app starts (summaries only: no PyTorch, no event streams), so a foreign or damaged
directory is one line (ResultsError or SweepError) and exit 2; a run is replayed by the lab.
"""

from __future__ import annotations

from .opened import Collection, OpenedRun, OpenedSeeds, OpenedSweep, open_results, seeds_at
from .report_sweeps import seeds_text, sweep_text


def load_saved(directory: str) -> Collection | None:
    """The sweep or seeds directory (or sweep point) at `directory`, with what its view shows
    read and checked; None when it is a run (the lab replays it). A directory that is none of
    these, or a damaged one, raises one line."""
    opened = open_results(directory)
    return None if isinstance(opened, OpenedRun) else opened.read()


def load_seeds(directory: str, seeds: list[int]) -> OpenedSeeds:
    """A sweep's point with the plan's `seeds`, read and checked (the sweep view's Enter)."""
    return seeds_at(directory, "point", seeds).read()


def saved_sweep_text(directory: str, fmt: str) -> str | None:
    """`--batch --open`: the tables of a stored sweep, seeds directory or sweep point (None:
    a run, whose tables the caller prints from its replayed summary)."""
    opened = open_results(directory)
    if isinstance(opened, OpenedSweep):
        return sweep_text(opened.results, fmt)
    if isinstance(opened, OpenedSeeds):
        return seeds_text(opened.aggregate, opened.summaries, fmt)
    return None
