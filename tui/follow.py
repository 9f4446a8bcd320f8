"""A saved run as a source of events: read to its end, and followed while it is still written.

`actlab-tui --open DIR` on a batch job that is still running shows what it has written so
far and then follows it, as `tail -f` would, until its `run_finished` arrives. A writer holds
a lock on its `events.jsonl` while it runs (`ResultsWriter`), so a stream that ends without
`run_finished` and without a writer is known to be interrupted, not running.
"""

from __future__ import annotations

import fcntl
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actlab.engine.events import Event, RunFinished
from actlab.engine.results import ResultsError, parse_event

from .messages import EngineEvents, SourceEnded

FOLLOW_POLL_S = 0.5  # how often a run still being written is looked at again
BATCH = 500  # events per message when reading what is already there


class EventFile:
    """Reads an events.jsonl incrementally: each call returns the complete lines added since."""

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / "events.jsonl"
        if not self.path.is_file():
            raise ResultsError(f"{directory}: no events.jsonl here; is it an actlab run directory?")
        self.offset = 0
        self.line = 0
        self.finished = False

    def read_new(self) -> list[Event]:
        events: list[Event] = []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1  # a line without its newline may still be being written
        self.offset += end
        for raw in data[:end].splitlines():
            self.line += 1
            if raw.strip():
                event = parse_event(raw, self.path, self.line)
                events.append(event)
                self.finished = self.finished or isinstance(event, RunFinished)
        return events

    def being_written(self) -> bool:
        """Whether a writer still holds the file's lock (it is alive and may add more)."""
        try:
            with open(self.path, "rb") as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    return True
                fcntl.flock(f, fcntl.LOCK_UN)
        except OSError:
            return False
        return False


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
        source = EventFile(directory)
        while not stop.is_set():
            events = source.read_new()
            for i in range(0, len(events), BATCH):
                post(EngineEvents(run_id, events[i : i + BATCH]))
            if source.finished or not source.being_written():
                break
            stop.wait(poll_s)  # the writer adds an event at least every evaluation
    except ResultsError as exc:
        error = str(exc)
    except (OSError, json.JSONDecodeError) as exc:
        error = f"{directory}: cannot read it ({exc})"
    post(SourceEnded(run_id, error))
