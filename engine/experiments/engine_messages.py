"""What crosses between the app and its engine process: requests one way, events the other.

Plain dataclasses, pickled by `multiprocessing.connection` (both sides import them from here,
so pickle names the same classes). The app (`actlab.tui.engine_process.RunHost`) sends
`StartRun`, `SetPaused`, `StopRun` and `Quit`; the child (`engine_child`) answers with
`RunEvents` batches and a `RunEnded` per run.
"""

from __future__ import annotations

from dataclasses import dataclass

from actlab.engine.config import RunConfig
from actlab.engine.events import Event, Progress
from actlab.engine.results_model import Summary


@dataclass(frozen=True)
class StartRun:
    """App -> child: train this comparison (after any run before it)."""

    run_id: int
    config: RunConfig
    run_dir: str | None  # where to store it; None keeps it in memory only
    threads: int | str | None  # PyTorch CPU threads: a count, "auto" (tuned), None (PyTorch's, fixed)


@dataclass(frozen=True)
class SetPaused:
    """App -> child: pause or resume a run."""

    run_id: int
    paused: bool


@dataclass(frozen=True)
class StopRun:
    """App -> child: stop a run (a queued one never starts)."""

    run_id: int


@dataclass(frozen=True)
class Quit:
    """App -> child: stop whatever runs and exit."""


@dataclass(frozen=True)
class RunEvents:
    """Child -> app: events of a run, in order, and where it stands now."""

    run_id: int
    events: list[Event]
    progress: Progress | None
    paused: bool = False  # the loop is waiting, at `progress`


@dataclass(frozen=True)
class RunEnded:
    """Child -> app: a run is over. `summary` is None when it was stopped before it began;
    `error` is one line when it failed."""

    run_id: int
    summary: Summary | None
    error: str | None = None
