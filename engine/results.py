"""Run directories: config.json, events.jsonl, summary.json and summary.csv.

The writer listens to the event stream. events.jsonl is appended and flushed event by
event, and summary.json/summary.csv are rewritten (atomically) at every epoch end and at
the finish, so a run that is interrupted, even killed, leaves readable files behind.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .config import ConfigError
from .events import (
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
from .metrics import SummaryBuilder
from .report import THRESHOLD_CSV_COLUMNS, threshold_csv_rows


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


# ------------------------------------------------------------------------------ writing
#
# A run never overwrites a file it did not create and never follows a link planted in its
# directory: the directory must be new or empty, every file is created exclusively
# (O_EXCL | O_NOFOLLOW), and the summaries are rewritten through fresh temporary files
# (mkstemp) renamed over the ones this run made.

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def check_run_dir(directory: str | Path) -> None:
    """Refuse a results directory that exists and is not empty (or is not a directory)."""
    d = Path(directory)
    if not os.path.lexists(d):
        return
    if not d.is_dir():
        raise ResultsError(f"results directory {d}: exists and is not a directory; choose a new or empty one")
    try:
        with os.scandir(d) as it:
            names = sorted(e.name for e in it)
    except OSError as exc:
        raise ResultsError(f"results directory {d}: cannot read it ({exc.strerror or exc})") from None
    if names:
        held = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        what = "already holds a run" if "events.jsonl" in names or "summary.json" in names else "is not empty"
        raise ResultsError(f"results directory {d} {what} ({held}); choose a new or empty directory")


def claim_run_dir(directory: str | Path) -> list[Path]:
    """Make `directory` ready for a new run: create it, or accept it when it exists and is
    empty. Return the directories this call created (outermost first), so that a run that
    never got going can remove exactly those."""
    d = Path(directory)
    check_run_dir(d)
    missing = [p for p in [d, *d.parents] if not os.path.lexists(p)][::-1]
    created: list[Path] = []
    try:
        for p in missing:
            try:
                p.mkdir()
                created.append(p)
            except FileExistsError:  # made meanwhile by someone else: fine unless it is ours
                if p == d:
                    check_run_dir(d)
    except OSError as exc:
        remove_created(created)
        raise ResultsError(f"results directory {d}: cannot create it ({exc.strerror or exc})") from None
    return created


def remove_created(created: list[Path]) -> None:
    """Remove directories this run created (innermost first) where they are still empty."""
    for p in reversed(created):
        try:
            p.rmdir()
        except OSError:
            return  # not empty (someone else's file, or a result): keep it and its parents


def _write_new(path: Path, data: bytes) -> None:
    """Write a file that must not exist yet (never through a link); fsynced."""
    fd = os.open(path, _NEW_FILE, 0o644)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # some platforms cannot open a directory; the files themselves are synced
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_file(path: str | Path, text: str | bytes, *, replace: bool) -> None:
    """Write `text` to `path` durably: into a fresh temporary file beside it (created
    exclusively, fsynced), then renamed into place. With replace=False the target must not
    exist (a hard link claims the name, so an existing file is never clobbered). A failure
    removes the temporary file and raises ResultsError naming `path`."""
    path = Path(path)
    data = text.encode("utf-8") if isinstance(text, str) else text
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, path)
            tmp = None
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise
            except OSError:  # a file system without hard links: create the name exclusively
                _write_new(path, data)
    except FileExistsError:
        raise ResultsError(
            f"{path}: already exists; a run never overwrites a file it did not write"
        ) from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


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
            fd = os.open(events, _NEW_FILE | os.O_APPEND, 0o644)
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
            _fsync_dir(self.directory)
        elif isinstance(event, (EpochFinished, RunFinished)):
            self.write_summary()
        if isinstance(event, RunFinished):
            self.close()

    def write_summary(self) -> None:
        summary = self.builder.summary()
        for name, text in (
            ("summary.json", json.dumps(summary, indent=2) + "\n"),
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
        _fsync_dir(self.directory)
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


def summary_csv(summary: dict[str, Any]) -> str:
    """One row per member and threshold: the figures of the iterations-to-threshold table."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(THRESHOLD_CSV_COLUMNS)
    for row in threshold_csv_rows(summary):
        w.writerow(["" if v is None else v for v in row])
    return out.getvalue()


# ------------------------------------------------------------------------------ reading
#
# `--open DIR` reads files that anyone may have written. Each line is bounded in size and
# nesting, decoded as UTF-8, parsed as JSON and checked against the event's schema and the
# run it belongs to; the first bad line is one ResultsError naming the file and line. Only a
# torn last line (no newline at its end: a writer killed mid-write) is skipped.

MAX_LINE_BYTES = 8 * 1024 * 1024  # the largest stored event (diagnostics) is well under 1 MB
MAX_NESTING = 32  # a diagnostics event nests 6 deep


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
    if _depth(obj) > MAX_NESTING:
        raise EventError(f"nested deeper than {MAX_NESTING} levels")
    return from_dict(obj)


def _depth(obj: Any) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest = 0
    stack = [(obj, 1)]
    while stack:
        o, level = stack.pop()
        if isinstance(o, (list, dict)):
            deepest = max(deepest, level)
            if level > MAX_NESTING:
                break
            stack.extend((v, level + 1) for v in (o.values() if isinstance(o, dict) else o))
    return deepest


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


MAX_JSON_BYTES = 64 * 2**20  # a plan of the largest sweep allowed is well under 1 MiB, a summary too


def read_json(path: str | Path, refusal: str, error: type[Exception] = ResultsError) -> Any:
    """A JSON file that anyone may have written (a run's summary, a sweep's plan), parsed with
    the bounds of an events line: size, nesting (a 100,000-deep list would otherwise end in a
    RecursionError), UTF-8. Anything wrong is one `error`: the file, `refusal` ("not a
    readable summary") and why. FileNotFoundError passes through: the caller knows what a
    missing file means."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_JSON_BYTES + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise error(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if len(raw) > MAX_JSON_BYTES:
        raise error(f"{path}: {refusal} (larger than {MAX_JSON_BYTES // 2**20} MiB)")
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise error(f"{path}: {refusal} (not UTF-8 text, byte {exc.start})") from None
    except RecursionError:
        raise error(f"{path}: {refusal} (nested too deep)") from None
    except ValueError as exc:  # JSONDecodeError, and integers too long to convert
        raise error(f"{path}: {refusal} ({_one_line(exc)})") from None
    if _depth(obj) > MAX_NESTING:
        raise error(f"{path}: {refusal} (nested too deep)")
    return obj


@contextmanager
def reading(what: str | Path) -> Iterator[None]:
    """Around a command's reading of a directory it was given: what the file system or the
    data can throw at any step of it (a directory or file we may not read, a link loop, data
    nested too deep or not a value it should be) becomes one ResultsError naming the path,
    instead of a traceback. Used once per entry point (compare, report, --open, --resume)."""
    try:
        yield
    except OSError as exc:
        where = exc.filename if exc.filename is not None else what
        raise ResultsError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    except RecursionError:
        raise ResultsError(f"{what}: cannot read it (nested too deep)") from None
    except ValueError as exc:
        if isinstance(exc, (ConfigError, EventError)):
            raise  # already one line of ours (a plan or an event refused)
        raise ResultsError(f"{what}: damaged or not an actlab directory ({_one_line(exc)})") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def why_not_a_directory(path: Path) -> str:
    """Why `path` (not a directory) cannot be read as one."""
    if not os.path.lexists(path):
        return "no such directory"
    if path.is_symlink() and not path.exists():
        return "a symbolic link that leads nowhere (or to itself)"
    return "not a directory"


def replay(directory: str | Path, listener: Listener) -> dict[str, Any]:
    """Feed a stored run to a listener, as if it were live; return its summary (status
    "interrupted" when the stream ends without run_finished)."""
    builder = SummaryBuilder()
    for event in read_events(directory):
        builder.feed(event)
        listener(event)
    builder.end_of_stream()
    return builder.summary()
