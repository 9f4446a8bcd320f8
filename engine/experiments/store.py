"""The file system under run and sweep directories: claimed, written and read with care.

A run never overwrites a file it did not create and never follows a link planted in its
directory; a file anyone may have written (a summary, a plan) is read with bounds on its size
and nesting; whatever the file system or the data throw becomes one line (`ResultsError`).
`results` (a run's files) and the sweep modules write and read through here.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from actlab.engine.config import ConfigError
from actlab.engine.events import EventError


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

NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


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
    fd = os.open(path, NEW_FILE, 0o644)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_dir(directory: Path) -> None:
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


MAX_NESTING = 32  # a diagnostics event nests 6 deep


def json_depth(obj: Any) -> int:
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
    if json_depth(obj) > MAX_NESTING:
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
