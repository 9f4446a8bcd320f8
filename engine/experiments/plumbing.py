"""One run's plumbing: its events to a writer and to listeners, trained, the writer closed.

Batch mode's single run, a sweep's job (here, on a worker or as a Ray task) and the app's
engine process all train through `train`, so they store, fan out and end a run the same way.
PyTorch loads when a run starts, not when this module is imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from actlab.engine.control import Control
from actlab.engine.events import Event, Listener, SettingValue
from actlab.engine.results_model import Summary

if TYPE_CHECKING:
    from actlab.engine.config import RunConfig
    from actlab.engine.data import Dataset


class RunWriter(Protocol):
    """Where a run's events are stored: a `results.ResultsWriter` (one run directory) or a
    sweep job's `sweep_jobs.SplitWriter` (a directory per point and seed)."""

    def __call__(self, event: Event) -> None: ...

    def close(self) -> None: ...


def train(
    config: RunConfig,
    writer: RunWriter | None,
    listeners: Sequence[Listener],
    control: Control,
    data: Dataset,
    variants: list[dict[str, SettingValue]] | None = None,
) -> Summary:
    """Train `config` on `data` (`train.run`): each event to `writer` (None: nothing stored),
    then to each listener; the writer is closed however the run ends. `control` is the run's
    one stop flag (a signal handler's, the app's, a backend's). A writer that fails (a full
    disk) stops the run, which the listeners still see end, and its error is raised after."""
    from actlab.engine.train import run  # PyTorch loads here, in the process that trains

    failure: list[Exception] = []

    def fan_out(event: Event) -> None:
        if writer is not None and not failure:
            try:
                writer(event)
            except Exception as exc:
                failure.append(exc)
                control.stop()
        for listener in listeners:
            listener(event)

    try:
        summary = run(config, fan_out, control, data, variants)
    finally:
        if writer is not None:
            writer.close()
    if failure:
        raise failure[0]
    return summary
