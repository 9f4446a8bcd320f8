"""A sweep's directory kept: its plan on disk, its lock, and what --resume finds and clears.

The plan (sweep.json) is written once and read back with bounds (`store.read_json`); the
directory is locked (`SweepLock`) by the one process that writes the sweep; a resume checks
that the finished runs were trained with the plan as it stands, and removes only the files
that unfinished runs left.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from actlab.engine.results_model import Summary
from actlab.engine.schema import SchemaError

from .results import held_by_writer
from .store import ResultsError, read_json, why_not_a_directory, write_file
from .sweep_plan import PLAN_FILE, Job, Plan, SweepError

# ------------------------------------------------------------------------------ state on disk


def save_plan(root: Path, plan: Plan) -> None:
    write_file(root / PLAN_FILE, json.dumps(plan.to_dict(), indent=2) + "\n", replace=False)


def check_sweep_dir(directory: str | Path) -> Path:
    """A directory --resume can take: it exists and holds a plan (looked at, not read)."""
    root = Path(directory)
    if not root.is_dir():
        raise SweepError(f"{root}: {why_not_a_directory(root)}")
    if not (root / PLAN_FILE).is_file():
        what = "a single run" if (root / "events.jsonl").exists() else "not a sweep or seeds directory"
        raise SweepError(
            f"{root}: {what} (no {PLAN_FILE}); --resume takes a directory made by --sweep or --seeds"
        )
    return root


def load_plan(directory: str | Path) -> Plan:
    """The plan of a sweep directory; a foreign or damaged one is one line (SweepError)."""
    root = check_sweep_dir(directory)
    path = root / PLAN_FILE
    try:
        d = read_json(path, "not readable as a sweep plan", SweepError)
    except FileNotFoundError:  # removed since it was looked at
        raise SweepError(f"{path}: no longer there") from None
    return Plan.from_dict(d, str(path))


class SweepLock:
    """The lock of a sweep directory: held by the one process that writes the sweep (a new
    sweep from before its plan is written, --resume from before it reads anything) until it
    ends, so that a second --resume cannot delete or train again what the first is writing.
    It is a flock on the directory itself: nothing is written for it, and it goes with the
    process that held it, however that process ends. Readers (--open, compare, report) take
    no lock: every file they read is replaced whole, never written in place."""

    def __init__(self) -> None:
        self.fd: int | None = None

    def acquire(self, root: Path) -> None:
        flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(root, flags)
        except OSError as exc:
            raise SweepError(f"{root}: cannot open it ({exc.strerror or exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                os.close(fd)  # a file system without flock: the sweep goes on unguarded, as before
                return
            pid = _flock_holder(fd)
            os.close(fd)
            who = f"another process (pid {pid})" if pid else "another process"
            raise SweepError(f"sweep {root} is being written by {who}; wait for it or stop it") from None
        self.release()
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the last descriptor releases the flock
            self.fd = None


def _flock_holder(fd: int) -> int | None:
    """The pid that holds a flock on `fd`'s file, from /proc/locks (Linux); None elsewhere,
    or when it cannot be told (a process of another pid namespace shows as 0)."""
    st = os.fstat(fd)
    key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        # "1: FLOCK  ADVISORY  WRITE 1234 fe:00:5678 0 EOF"; a waiter's line has "->" after "1:"
        parts = line.split()
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5] == key and parts[4].isdigit():
            return int(parts[4]) or None
    return None


def run_summary(root: Path, rel: str) -> Summary | None:
    """A run's stored summary, None when it has none (not started, or removed); a damaged
    one is one ResultsError naming the file and the field."""
    path = root / rel / "summary.json"
    try:
        d = read_json(path, "not a readable summary")
    except FileNotFoundError:
        return None
    if not isinstance(d, dict) or not isinstance(d.get("members"), list):
        raise ResultsError(f"{path}: not a run summary")
    try:
        return Summary.from_json(d)
    except SchemaError as exc:
        raise ResultsError(f"{path}: {exc}") from None


def job_done(root: Path, plan: Plan, job: Job) -> bool:
    """Every run of the job finished (status done)."""
    for point, seed in plan.job_runs(job):
        s = run_summary(root, point.run_dir(seed))
        if s is None or s.status != "done":
            return False
    return True


# where a run trained and where its data lie, not what it trained: the device is set per job
# (a Ray task's GPU), and a sweep moved to another machine may point at its own data and cache
_WHERE_IT_RAN = ("device", "data_dir", "cache_dir")


def check_finished_runs(root: Path, plan: Plan) -> None:
    """Refuse to go on with a plan that is not the one the finished runs were trained with
    (a sweep.json edited since): the table would mix them. Each kept run's stored settings
    are compared with those the plan gives its point and seed. Settings a run does not store
    (written by an older actlab) are not compared."""
    for job in plan.jobs:
        if not job_done(root, plan, job):
            continue  # trained again from the start on resume: nothing of it is kept
        for point, seed in plan.job_runs(job):
            rel = point.run_dir(seed)
            summary = run_summary(root, rel)
            stored: Mapping[str, object] | None = None if summary is None else summary.config
            if stored is None:
                raise ResultsError(f"{root / rel / 'summary.json'}: not a run summary (no config)")
            planned: Mapping[str, object] = plan.run_config(point, seed).to_dict()
            for name, value in planned.items():
                if name in _WHERE_IT_RAN or name not in stored or stored[name] == value:
                    continue
                raise SweepError(
                    f"{root / PLAN_FILE} says {name}={_json(value)} but {rel} was trained with "
                    f"{name}={_json(stored[name])}; refusing to mix them in one table (put "
                    f"{PLAN_FILE} back as it was, or start a new sweep)"
                )


def _json(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


_RUN_FILES = ("events.jsonl", "config.json", "summary.json", "summary.csv")


def clear_jobs(root: Path, plan: Plan, jobs: list[Job]) -> None:
    """Remove what unfinished jobs left (their runs are trained again from the start). Every
    run is looked at before anything is removed: only the files a run writes go, and a run
    that is not this sweep's, holds other files or is still being written (its writer holds
    the lock on its events.jsonl) stops the resume with one line, nothing removed."""
    inside = Path(os.path.realpath(root))
    found: list[tuple[Path, list[str]]] = []
    for job in jobs:
        for point, seed in plan.job_runs(job):
            d = root / point.run_dir(seed)
            if not os.path.lexists(d):
                continue
            links = [p for p in (d, d.parent) if p.is_symlink()]
            if links or not d.is_dir() or not Path(os.path.realpath(d)).is_relative_to(inside):
                raise ResultsError(f"{d}: not a run directory of this sweep; move it away to resume")
            try:
                names = sorted(os.listdir(d))
            except OSError as exc:
                raise ResultsError(f"{d}: cannot read it ({exc.strerror or exc})") from None
            strange = [n for n in names if n not in _RUN_FILES and not n.startswith(".tmp")]
            if strange:
                raise ResultsError(
                    f"{d}: holds {', '.join(strange[:3])}, which a run does not write; move it away"
                )
            if "events.jsonl" in names and held_by_writer(d / "events.jsonl"):
                raise SweepError(
                    f"{d} is being written by another process; wait for it or stop it, then resume"
                )
            found.append((d, names))
    for d, names in found:
        try:
            for n in names:
                (d / n).unlink()
            d.rmdir()
        except OSError as exc:
            raise ResultsError(f"{d}: cannot remove what it holds ({exc.strerror or exc})") from None


def unfinished(root: Path, plan: Plan) -> Iterator[Job]:
    for job in plan.jobs:
        if not job_done(root, plan, job):
            yield job
