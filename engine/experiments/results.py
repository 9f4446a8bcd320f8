"""Run directories: config.json, events.jsonl, summary.json and summary.csv.

The writer listens to the event stream. events.jsonl is appended and flushed event by
event, and summary.json/summary.csv are rewritten (atomically) at every epoch end and at
the finish, so a run that is interrupted, even killed, leaves readable files behind.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from actlab.engine.events import (
    Diagnostics,
    EpochFinished,
    Evaluation,
    Event,
    EventError,
    Listener,
    MemberDiverged,
    Progress,
    RunFinished,
    RunStarted,
    from_dict,
)
from actlab.engine.metrics import SummaryBuilder
from actlab.engine.results_model import Summary

from .report import CSV_LINE_END, threshold_csv
from .store import (
    MAX_NESTING,
    NEW_FILE,
    ResultsError,
    claim_run_dir,
    fsync_dir,
    json_depth,
    reading,
    remove_created,
    why_not_a_directory,
    write_file,
)


class ResultsWriter:
    """A listener that stores the stream and the summary in `directory`, which must be new
    or empty. A run that ends before its first iteration with an error, or a writer closed
    before any event, leaves nothing behind: the files and directories it made are removed
    (a directory that existed before is kept)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._created = claim_run_dir(self.directory)
        self._made: list[Path] = []  # files this writer created
        events = self.directory / "events.jsonl"
        try:
            fd = os.open(events, NEW_FILE | os.O_APPEND, 0o644)
        except OSError as exc:
            remove_created(self._created)
            if isinstance(exc, FileExistsError):
                raise ResultsError(
                    f"results directory {self.directory} already holds a run; choose a new or empty directory"
                ) from None
            raise ResultsError(f"{events}: cannot create it ({exc.strerror or exc})") from None
        self._made.append(events)
        # held while the run is written: a reader that follows it can tell "still running"
        # from "interrupted" (see EventReader.being_written); released when the file closes
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._events = os.fdopen(fd, "w", encoding="utf-8")
        self.builder = SummaryBuilder()
        self._started = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, Progress):
            return
        self.builder.feed(event)
        try:
            self._events.write(json.dumps(event.to_dict(), separators=(",", ":")) + "\n")
            self._events.flush()
        except OSError as exc:
            raise ResultsError(
                f"{self.directory / 'events.jsonl'}: cannot write ({exc.strerror or exc})"
            ) from None
        if isinstance(event, RunStarted):
            self._started = True
            config = self.directory / "config.json"
            write_file(config, json.dumps(event.config, indent=2) + "\n", replace=False)
            self._made.append(config)
            self.write_summary()
            fsync_dir(self.directory)
        elif isinstance(event, (EpochFinished, RunFinished)):
            self.write_summary()
        if isinstance(event, RunFinished):
            self.close()

    def write_summary(self) -> None:
        summary = self.builder.summary()
        for name, text in (
            ("summary.json", json.dumps(summary.to_json(), indent=2) + "\n"),
            ("summary.csv", summary_csv(summary)),
        ):
            path = self.directory / name
            if path not in self._made:
                write_file(path, text, replace=False)  # the first time: the name must be free
                self._made.append(path)
            else:
                write_file(path, text, replace=True)

    def close(self) -> None:
        if self._events.closed:
            return
        try:
            self._events.flush()
            os.fsync(self._events.fileno())
        except OSError:
            pass  # a write error was reported when it happened
        finally:
            self._events.close()
        fsync_dir(self.directory)
        b = self.builder
        never_ran = not self._started or (b.status == "error" and b.iteration == 0)
        if never_ran:
            self._discard()

    def _discard(self) -> None:
        for path in self._made:
            try:
                path.unlink()
            except OSError:
                pass
        remove_created(self._created)


def summary_csv(summary: Summary) -> str:
    """summary.csv: one row per member and threshold, the figures of the iterations-to-threshold
    table; the text `--format csv` prints for the run (report.threshold_csv), as a file ends."""
    return threshold_csv(summary) + CSV_LINE_END


# ------------------------------------------------------------------------------ reading
#
# `--open DIR` reads files that anyone may have written. Each line is bounded in size and
# nesting, decoded as UTF-8, parsed as JSON and checked against the event's schema and the
# run it belongs to; the first bad line is one ResultsError naming the file and line. Only a
# torn last line (no newline at its end: a writer killed mid-write) is skipped.

MAX_LINE_BYTES = 8 * 1024 * 1024  # the largest stored event (diagnostics) is well under 1 MB


def read_events(directory: str | Path) -> Iterator[Event]:
    """The stored stream of a run directory, event by event, validated."""
    reader = EventReader(directory)
    yield from reader.events(final=True)
    if reader.check.started is None:
        raise ResultsError(f"{reader.path}: holds no events; the run never started")


class EventReader:
    """A run's events.jsonl read incrementally: each `events()` goes on where the last one
    stopped, so a run that another process still writes can be followed."""

    def __init__(self, directory: str | Path) -> None:
        d = Path(directory)
        with reading(directory):  # a directory we may not read: one line
            if not d.is_dir():
                raise ResultsError(f"{directory}: {why_not_a_directory(d)}; expected an actlab run directory")
            self.path = d / "events.jsonl"
            if not self.path.is_file():
                raise ResultsError(f"{directory}: no events.jsonl here; is it an actlab run directory?")
        self.check = _StreamCheck()
        self.offset = 0  # bytes read and taken
        self.line = 0

    @property
    def finished(self) -> bool:
        return self.check.finished

    def events(self, final: bool) -> Iterator[Event]:
        """The events of the complete lines after the last read. A line without its newline
        is left for the next read, unless `final` (nothing more will come): then it is a
        torn last line, skipped, as a writer killed mid-write leaves one."""
        try:
            f = open(self.path, "rb")
        except OSError as exc:
            raise ResultsError(f"{self.path}: cannot read it ({exc.strerror or exc})") from None
        with f:
            f.seek(self.offset)
            while True:
                try:
                    raw = f.readline(MAX_LINE_BYTES + 1)
                except OSError as exc:
                    raise ResultsError(
                        f"{self.path} line {self.line + 1}: cannot read it ({exc.strerror or exc})"
                    ) from None
                complete = raw.endswith(b"\n")
                if not raw or (not complete and not final and len(raw) <= MAX_LINE_BYTES):
                    return  # the end, or a line still being written
                self.line += 1
                self.offset += len(raw)
                try:
                    if len(raw) > MAX_LINE_BYTES:
                        raise EventError(f"longer than {MAX_LINE_BYTES // 2**20} MiB")
                    if not raw.strip():
                        continue
                    event = self.check(_parse_line(raw))
                except EventError as exc:
                    if not complete and not f.read(1):
                        return  # a torn last line: the writer was killed mid-write
                    raise ResultsError(f"{self.path} line {self.line}: {exc}") from None
                yield event

    def being_written(self) -> bool:
        """Whether a writer still holds the file's lock: it is alive and may add more."""
        return held_by_writer(self.path)


def held_by_writer(events: Path) -> bool:
    """Whether a ResultsWriter (of any process) still holds the lock on this events.jsonl."""
    try:
        fd = os.open(events, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        pass  # a file system without flock: nobody can be told to be writing
    finally:
        os.close(fd)  # and with it the shared lock just taken
    return False


def _parse_line(raw: bytes) -> Event:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventError(f"not UTF-8 text (byte {exc.start})") from None
    try:
        obj = json.loads(text)
    except RecursionError:
        raise EventError(f"nested deeper than {MAX_NESTING} levels") from None
    except ValueError as exc:
        raise EventError(f"not valid JSON ({exc})") from None
    if json_depth(obj) > MAX_NESTING:
        raise EventError(f"nested deeper than {MAX_NESTING} levels")
    return from_dict(obj)


class _StreamCheck:
    """What no single event can tell: the stream starts with run_started, member indices and
    per-member lists fit the run, nothing follows run_finished."""

    STATUSES = ("done", "stopped", "error")

    def __init__(self) -> None:
        self.started: RunStarted | None = None
        self.finished = False

    def __call__(self, event: Event) -> Event:
        if self.finished:
            raise EventError(f"{event.kind} after run_finished")
        if isinstance(event, RunStarted):
            if self.started is not None:
                raise EventError("a second run_started")
            if not event.members:
                raise EventError("run_started: members is empty")
            if event.baseline not in event.members:
                raise EventError(f"run_started: baseline {_short(event.baseline)} is not a member")
            if not event.config["thresholds"]:
                raise EventError("run_started: config.thresholds is empty")
            self.started = event
            return event
        if self.started is None:
            raise EventError(f"{event.kind} before run_started")
        k = len(self.started.members)
        if isinstance(event, Evaluation):
            for name in ("accuracy", "test_loss", "train_loss"):
                if len(getattr(event, name)) != k:
                    raise EventError(
                        f"evaluation: {name} has {len(getattr(event, name))} values for {k} members"
                    )
        elif isinstance(event, Diagnostics):
            if len(event.members) != k:
                raise EventError(f"diagnostics: {len(event.members)} members for {k}")
        elif isinstance(event, MemberDiverged):
            if not 0 <= event.member < k:
                raise EventError(f"member_diverged: member {event.member} is not one of 0-{k - 1}")
        elif isinstance(event, RunFinished):
            if event.status not in self.STATUSES:
                raise EventError(
                    f"run_finished: status {_short(event.status)} is not one of {', '.join(self.STATUSES)}"
                )
            self.finished = True
        return event


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def replay(directory: str | Path, listener: Listener) -> Summary:
    """Feed a stored run to a listener, as if it were live; return its summary (status
    "interrupted" when the stream ends without run_finished)."""
    builder = SummaryBuilder()
    for event in read_events(directory):
        builder.feed(event)
        listener(event)
    builder.end_of_stream()
    return builder.summary()
