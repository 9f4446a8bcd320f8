"""A saved run as a source of events: read to its end, and followed while it is still written.

`actlab-tui --open DIR` on a batch job that is still running shows what it has written so
far and then follows it, as `tail -f` would, until its `run_finished` arrives. A writer holds
a lock on its `events.jsonl` while it runs (`ResultsWriter`), so a stream that ends without
`run_finished` and without a writer is known to be interrupted, not running.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actlab.engine.events import Event
from actlab.engine.experiments.results import EventReader
from actlab.engine.experiments.store import ResultsError

from .messages import EngineEvents, SourceEnded, SourceFollowing

FOLLOW_POLL_S = 0.5  # how often a run still being written is looked at again
BATCH = 500  # events per message when reading what is already there


def follow(
    directory: str | Path,
    run_id: int,
    post: Callable[[Any], Any],
    stop: threading.Event,
    poll_s: float = FOLLOW_POLL_S,
) -> None:
    """Post the run's events as they are (batches of BATCH), then the ones it adds while a
    writer is alive, then `SourceEnded`. Errors end the source with their one line."""
    error: str | None = None
    try:
        reader = EventReader(directory)
        following = False
        while not stop.is_set():
            # asked before reading, so that whatever the writer added before it ended is read
            writing = reader.being_written()
            batch: list[Event] = []
            for event in reader.events(final=not writing):
                batch.append(event)
                if len(batch) >= BATCH:
                    post(EngineEvents(run_id, batch))
                    batch = []
            if batch:
                post(EngineEvents(run_id, batch))
            if reader.finished or not writing:
                break
            if not following:
                following = True
                post(SourceFollowing(run_id))
            stop.wait(poll_s)  # the writer adds an event at least every evaluation
        if reader.check.started is None and not stop.is_set():
            error = f"{reader.path}: holds no events; the run never started"
    except ResultsError as exc:
        error = str(exc)
    post(SourceEnded(run_id, error))
