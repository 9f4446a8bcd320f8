"""Run directories: config.json, events.jsonl, summary.json and summary.csv.

The writer listens to the event stream. events.jsonl is appended and flushed event by
event, and summary.json/summary.csv are rewritten (atomically) at every epoch end and at
the finish, so a run that is interrupted, even killed, leaves readable files behind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .events import EpochFinished, Event, Listener, Progress, RunFinished, RunStarted, from_dict
from .metrics import SummaryBuilder


class ResultsError(Exception):
    """A run directory cannot be written or read; the message is one line."""


def default_run_dir(base: str | Path = "actlab-runs") -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(base) / stamp
    n = 1
    while path.exists():
        n += 1
        path = Path(base) / f"{stamp}-{n}"
    return path


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class ResultsWriter:
    """A listener that stores the stream and the summary in `directory`."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            probe = self.directory / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise ResultsError(
                f"results directory {self.directory}: cannot write ({exc.strerror or exc})"
            ) from None
        if (self.directory / "events.jsonl").exists():
            raise ResultsError(
                f"results directory {self.directory} already holds a run; choose an empty or new directory"
            )
        self.builder = SummaryBuilder()
        self._events = open(self.directory / "events.jsonl", "a", encoding="utf-8")

    def __call__(self, event: Event) -> None:
        if isinstance(event, Progress):
            return
        self.builder.feed(event)
        self._events.write(json.dumps(event.to_dict(), separators=(",", ":")) + "\n")
        self._events.flush()
        if isinstance(event, RunStarted):
            _atomic_write(self.directory / "config.json", json.dumps(event.config, indent=2) + "\n")
            self.write_summary()
        elif isinstance(event, (EpochFinished, RunFinished)):
            self.write_summary()
        if isinstance(event, RunFinished):
            self.close()

    def write_summary(self) -> None:
        summary = self.builder.summary()
        _atomic_write(self.directory / "summary.json", json.dumps(summary, indent=2) + "\n")
        _atomic_write(self.directory / "summary.csv", summary_csv(summary))

    def close(self) -> None:
        if not self._events.closed:
            self._events.close()


def summary_csv(summary: dict[str, Any]) -> str:
    """One row per member and threshold: the figures of the iterations-to-threshold table."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(
        [
            "activation",
            "status",
            "diverged_at",
            "threshold",
            "first",
            "sustained",
            "speedup",
            "final_accuracy",
            "epoch_time_s",
        ]
    )
    for m in summary["members"]:
        for t in m["thresholds"]:
            w.writerow(
                [
                    m["activation"],
                    m["status"],
                    _blank(m["diverged_at"]),
                    t["threshold"],
                    _blank(t["first"]),
                    _blank(t["sustained"]),
                    _blank(t["speedup"]),
                    _blank(m["final_accuracy"]),
                    _blank(m["epoch_time_s"]),
                ]
            )
    return out.getvalue()


def _blank(v: Any) -> Any:
    return "" if v is None else v


def read_events(directory: str | Path) -> Iterator[Event]:
    """The stored stream of a run directory, event by event (a torn last line is skipped)."""
    path = Path(directory) / "events.jsonl"
    if not path.is_file():
        raise ResultsError(f"{directory}: no events.jsonl here; is it an actlab run directory?")
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield from_dict(json.loads(line))
            except (ValueError, TypeError) as exc:
                # an interrupted write leaves at most a torn final line; anything else is damage
                if f.read(1):
                    raise ResultsError(f"{path}:{n}: not a valid event ({exc})") from None
                return


def replay(directory: str | Path, listener: Listener) -> dict[str, Any]:
    """Feed a stored run to a listener, as if it were live; return its summary."""
    builder = SummaryBuilder()
    for event in read_events(directory):
        builder.feed(event)
        listener(event)
    return builder.summary()


def parse_event(raw: bytes | str, path: str | Path, line: int) -> Event:
    """One line of an events.jsonl as an event; a bad one is one ResultsError line naming
    the file and the line."""
    try:
        return from_dict(json.loads(raw))
    except (ValueError, TypeError, KeyError) as exc:
        raise ResultsError(f"{path} line {line}: not a valid event ({exc})") from None
