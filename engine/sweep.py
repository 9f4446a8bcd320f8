"""Sweeps: a comparison repeated over seeds and settings, planned as few cohorts as possible.

A sweep is the cross product of its axes (`lr=0.01,0.1 depth=1,2`), each point a full fair
comparison of the chosen activations, repeated over the seeds. Points that differ only in
settings a member may hold on its own (learning rate, momentum, L1/L2, clipping threshold,
dropout, init) and the seeds are trained in ONE lockstep cohort: a *job*. Points that differ
in shape or kind (depth, width, batch size, optimizer, loss, clipping kind, dataset, input
scaling, epochs) are separate jobs.

On disk, every (point, seed) is an ordinary run directory, so everything that reads a run
reads it (`--open`, `compare`, `report`):

    DIR/sweep.json                  the plan (axes, seeds, points, jobs); what --resume reads
    DIR/<point>/seed-<S>/...        one run per point and seed ("lr=0.1,depth=2/seed-0")
    DIR/<point>/aggregate.json      the point over its seeds (paired statements)
    DIR/sweep-results.json          every point, the heatmap and the best-lr view

A plain `--seeds N` run is a sweep without axes: DIR/seed-<S>/ and DIR/aggregate.json.
A job's cohort stream is split as it is written (`SplitWriter`): each sub-run gets the events
of its own members, renumbered, with its own settings in its config.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import itertools
import json
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import ConfigError, RunConfig, host_memory_bytes, network_memory_bytes
from .events import Diagnostics, Evaluation, Event, Listener, MemberCosts, MemberDiverged, RunStarted
from .experiments.report import value_text
from .experiments.report_sweeps import seeds_text, sweep_text
from .experiments.results import ResultsWriter, held_by_writer
from .experiments.store import ResultsError, read_json, why_not_a_directory, write_file
from .metrics import aggregate

PLAN_VERSION = 1
PLAN_FILE = "sweep.json"
RESULTS_FILE = "sweep-results.json"

# settings a member of a cohort may hold on its own (see train.PER_MEMBER; seeds come from --seeds)
MEMBER_AXES = ("lr", "momentum", "weight_decay", "l1", "clip_threshold", "dropout", "init")
# settings that change the network's shape or the run's kind: a job each
SHAPE_AXES = (
    "depth",
    "width",
    "batch_size",
    "optimizer",
    "loss",
    "clip",
    "input_scaling",
    "dataset",
    "epochs",
)
AXES = MEMBER_AXES + SHAPE_AXES

# Runs (points x seeds) one sweep may hold. Each is a directory of four files, a summary
# builder in memory and an open events file while its job trains, and a line or more in the
# tables; 10,000 points made 20,000 directories and gigabytes of memory before the first
# step. A thousand is already more than the tables can be read for (the seeds' own cap).
MAX_RUNS = 1000


class SweepError(ConfigError):
    """A sweep that cannot be planned or resumed; one line."""


# ------------------------------------------------------------------------------ parsing


def _field_type(name: str) -> type:
    default = {f.name: f.default for f in dataclasses.fields(RunConfig)}[name]
    return type(default)


def parse_sweep(text: str, base: RunConfig) -> list[tuple[str, list[Any]]]:
    """`"lr=0.01,0.1 depth=1,2"` -> [("lr", [0.01, 0.1]), ("depth", [1, 2])], each value
    checked as the setting it sets would be (one line naming the value otherwise)."""
    axes: list[tuple[str, list[Any]]] = []
    words = text.replace(";", " ").split()
    if not words:
        raise SweepError(f'sweep {text!r}: give axes as name=v1,v2 (e.g. "lr=0.01,0.1 depth=1,2")')
    for word in words:
        name, eq, values_text = word.partition("=")
        name = name.strip().replace("-", "_")
        if not eq or not name:
            raise SweepError(f"sweep axis {word!r}: write it as name=v1,v2,... (e.g. lr=0.01,0.1)")
        if name == "seed":
            raise SweepError("sweep axis 'seed': seeds are given with --seeds N (paired, in one cohort)")
        if name not in AXES:
            raise SweepError(f"sweep axis {name!r}: choose from {', '.join(AXES)}")
        if any(name == n for n, _ in axes):
            raise SweepError(f"sweep axis {name!r} is given twice")
        kind = _field_type(name)
        values: list[Any] = []
        raws = values_text.split(",")
        if len(raws) > MAX_RUNS:  # refused before each value is checked: that alone takes a while
            raise SweepError(
                f"sweep axis {name!r}: {len(raws):,} values, more than the {MAX_RUNS:,} runs one sweep "
                "may hold; use fewer values, or split it into several sweeps"
            )
        for raw in raws:
            raw = raw.strip()
            if not raw:
                raise SweepError(f"sweep axis {name!r}: an empty value in {values_text!r}")
            try:
                value: Any = kind(raw) if kind is not str else raw
            except ValueError:
                raise SweepError(
                    f"sweep {name}={raw!r}: must be {'an integer' if kind is int else 'a number'}"
                ) from None
            if kind is float and not math.isfinite(value):
                raise SweepError(f"sweep {name}={raw!r}: must be a finite number")
            try:
                base.replace(**{name: value}).validate()
            except ConfigError as exc:
                raise SweepError(f"sweep: {exc}") from None
            if value in values:
                raise SweepError(f"sweep axis {name!r}: value {raw} is given twice")
            values.append(value)
        axes.append((name, values))
    return axes


# ------------------------------------------------------------------------------ the plan


@dataclass
class Point:
    name: str  # "lr=0.1,depth=2" ("" for a sweep without axes)
    values: dict[str, Any]
    job: int

    def run_dir(self, seed: int) -> str:
        return f"{self.name}/seed-{seed}" if self.name else f"seed-{seed}"


@dataclass
class Job:
    index: int
    shape: dict[str, Any]  # the shape axes' values
    points: list[int]  # indices into Plan.points


@dataclass
class Plan:
    base: RunConfig
    axes: list[tuple[str, list[Any]]]
    seeds: list[int]
    points: list[Point] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)

    @classmethod
    def build(cls, base: RunConfig, axes: list[tuple[str, list[Any]]], seeds: list[int]) -> Plan:
        plan = cls(base, axes, seeds)
        _check_size(axes, seeds)  # before the product is built: it may be huge
        names = [n for n, _ in axes]
        jobs: dict[tuple[Any, ...], Job] = {}
        for combo in itertools.product(*(vs for _, vs in axes)):
            values = dict(zip(names, combo))
            shape = {n: v for n, v in values.items() if n in SHAPE_AXES}
            key = tuple(shape.items())
            if key not in jobs:
                jobs[key] = Job(len(jobs), shape, [])
            job = jobs[key]
            name = ",".join(f"{n}={value_text(v)}" for n, v in values.items())
            if "/" in name or "\0" in name or name.startswith("."):
                raise SweepError(f"sweep point {name!r}: not a usable directory name")
            base.replace(**values).validate()  # every value, whatever its source (a stored plan)
            job.points.append(len(plan.points))
            plan.points.append(Point(name, values, job.index))
        names = [p.name for p in plan.points]
        if len(set(names)) != len(names):
            raise SweepError(f"sweep: two points would share a name ({_first_repeat(names)})")
        plan.jobs = list(jobs.values())
        _check_effective(base, axes)
        for job in plan.jobs:
            cfg = plan.job_config(job)
            cfg.validate()
            k = len(job.points) * len(seeds)
            need = network_memory_bytes(cfg) * k
            available = host_memory_bytes()
            if available and need > available:
                raise SweepError(
                    f"job {job.index + 1} of {len(plan.jobs)} ({_shape_text(job.shape)}): "
                    f"{k * len(cfg.activations)} members need "
                    f"~{need / 1e9:.3g} GB, more than this machine has; use fewer seeds or points"
                )
        return plan

    def job_config(self, job: Job) -> RunConfig:
        return self.base.replace(**job.shape)

    def job_variants(self, job: Job) -> list[dict[str, Any]]:
        """The job's variants, seed-major: variant = seed index * points in job + point."""
        return [
            {"seed": s, **{n: v for n, v in self.points[p].values.items() if n in MEMBER_AXES}}
            for s in self.seeds
            for p in job.points
        ]

    def job_runs(self, job: Job) -> list[tuple[Point, int]]:
        """(point, seed) of each variant of the job, in variant order."""
        return [(self.points[p], s) for s in self.seeds for p in job.points]

    def run_config(self, point: Point, seed: int) -> RunConfig:
        return self.base.replace(**point.values, seed=seed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PLAN_VERSION,
            "base": self.base.to_dict(),
            "axes": [[n, vs] for n, vs in self.axes],
            "seeds": self.seeds,
            "points": [{"name": p.name, "values": p.values, "job": p.job} for p in self.points],
            "jobs": [{"index": j.index, "shape": j.shape, "points": j.points} for j in self.jobs],
        }

    @classmethod
    def from_dict(cls, d: Any, where: str) -> Plan:
        """A stored plan, checked: rebuilt from its base, axes and seeds, and compared."""
        if not isinstance(d, dict) or d.get("version") != PLAN_VERSION:
            raise SweepError(f"{where}: not a sweep plan of version {PLAN_VERSION}")
        try:
            base = RunConfig.from_dict(d["base"]).validate()
            axes = [(str(n), list(vs)) for n, vs in d["axes"]]
            seeds = [int(s) for s in d["seeds"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise SweepError(f"{where}: not a valid sweep plan ({exc})") from None
        for name, values in axes:
            if name not in AXES or not values:
                raise SweepError(f"{where}: axis {name!r} is not one a sweep has")
        if not seeds:
            raise SweepError(f"{where}: no seeds")
        plan = cls.build(base, [(n, [_stored(n, v) for v in vs]) for n, vs in axes], seeds)
        if plan.to_dict() != d:
            raise SweepError(f"{where}: the plan does not match its own axes and seeds (edited?)")
        return plan


def _check_size(axes: list[tuple[str, list[Any]]], seeds: list[int]) -> None:
    points = math.prod(len(vs) for _, vs in axes)
    runs = points * len(seeds)
    if runs > MAX_RUNS:
        shape = " x ".join(f"{len(vs)} {n}" for n, vs in axes)
        raise SweepError(
            f"sweep: {points:,} points ({shape}) x {len(seeds)} seed(s) = {runs:,} runs, more than the "
            f"{MAX_RUNS:,} one sweep may hold; use fewer values or seeds, or split it into several sweeps"
        )


def _first_repeat(names: list[str]) -> str:
    return next(n for i, n in enumerate(names) if n in names[:i])


def _check_effective(base: RunConfig, axes: list[tuple[str, list[Any]]]) -> None:
    """Refuse an axis whose values cannot change anything: every point would be the same run."""
    swept = dict(axes)
    clips = swept.get("clip", [base.clip])
    if "clip_threshold" in swept and all(c == "none" for c in clips):
        raise SweepError(
            "sweep axis clip_threshold: no effect without clipping; add --clip l2, l1, inf or value"
        )
    optimizers = swept.get("optimizer", [base.optimizer])
    if "momentum" in swept and all(o == "adam" for o in optimizers):
        raise SweepError("sweep axis momentum: adam ignores it; use --optimizer sgd")


def _stored(name: str, v: Any) -> Any:
    kind = _field_type(name)
    if kind is float and isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    if not isinstance(v, kind) or isinstance(v, bool):
        raise SweepError(f"sweep plan: {name} value {v!r} is not a {kind.__name__}")
    return v


def _shape_text(shape: dict[str, Any]) -> str:
    return ", ".join(f"{n}={value_text(v)}" for n, v in shape.items()) or "one job"


# ------------------------------------------------------------------------------ splitting


def project(event: Event, first: int, count: int) -> Event | None:
    """The part of a cohort's event that concerns members first..first+count-1, renumbered
    from 0 (None: the event is about another member)."""
    sl = slice(first, first + count)
    if isinstance(event, Evaluation):
        return dataclasses.replace(
            event,
            accuracy=event.accuracy[sl],
            test_loss=event.test_loss[sl],
            train_loss=event.train_loss[sl],
        )
    if isinstance(event, Diagnostics):
        return dataclasses.replace(event, members=event.members[sl])
    if isinstance(event, MemberCosts):
        return dataclasses.replace(event, epoch_time_alone_s=event.epoch_time_alone_s[sl])
    if isinstance(event, MemberDiverged):
        if not first <= event.member < first + count:
            return None
        return dataclasses.replace(event, member=event.member - first)
    return event


class SplitWriter:
    """A listener on a job's cohort stream that writes one run directory per (point, seed),
    each with the events of its own members. `root` None: keep the events in memory
    (`streams`) instead, for a job that runs where the results directory is not.

    The run directories are made when the job starts writing (its run_started), not before:
    a job that fails while its data or its cohort are made leaves nothing behind."""

    def __init__(self, plan: Plan, job: Job, root: Path | None) -> None:
        self.plan = plan
        self.job = job
        self.root = root
        self.runs = plan.job_runs(job)
        self.width = len(plan.base.activations)
        self.writers: list[ResultsWriter] = []
        self.streams: list[list[dict[str, Any]]] = [[] for _ in self.runs]
        self.started: list[RunStarted] = []

    def _open_writers(self, root: Path) -> None:
        _room_for_files(len(self.runs))
        try:
            for point, seed in self.runs:
                self.writers.append(ResultsWriter(root / point.run_dir(seed)))
        except BaseException:
            self.close()  # the ones made so far saw no event: they remove what they made
            raise

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.started = [self._started(event, p, s) for p, s in self.runs]
            if self.root is not None and not self.writers:
                self._open_writers(self.root)
        for v in range(len(self.runs)):
            part = (
                self.started[v]
                if isinstance(event, RunStarted)
                else project(event, v * self.width, self.width)
            )
            if part is None:
                continue
            if self.writers:
                self.writers[v](part)
            elif part.kind != "progress":
                self.streams[v].append(part.to_dict())

    def _started(self, event: RunStarted, point: Point, seed: int) -> RunStarted:
        cfg = self.plan.run_config(point, seed)
        return dataclasses.replace(
            event,
            config=cfg.to_dict(),
            members=list(cfg.activations),
            baseline=cfg.baseline,
            cohort={
                "members": len(event.members),
                "job": self.job.index,
                "point": point.name,
                "seeds": self.plan.seeds,
            },
        )

    def summaries(self) -> list[dict[str, Any]]:
        return [w.builder.summary() for w in self.writers]

    def close(self) -> None:
        for w in self.writers:
            w.close()


def _room_for_files(n: int) -> None:
    """Each run of a job keeps its events.jsonl open while the job trains: lift this process's
    soft limit of open files, where the hard limit allows, so that a job of MAX_RUNS runs fits
    under the common 1,024."""
    try:
        import resource
    except ImportError:  # not a Unix: no such limit to lift
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 256  # and what the process has open besides (libraries, data, a terminal)
    if soft == resource.RLIM_INFINITY or soft >= want:
        return
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):
        pass  # left as it is: a job too large for it fails with one line naming the file


# ------------------------------------------------------------------------------ running a job


def run_job(
    plan: Plan,
    job: Job,
    root: Path | None,
    control: Any,
    data: Any = None,
    listeners: list[Listener] | None = None,
) -> dict[str, Any]:
    """Train one job's cohort, writing its runs under `root` (or keeping their streams):
    {"job", "status", "streams" (when root is None)}."""
    from .train import run  # PyTorch loads here, in the process that trains

    split = SplitWriter(plan, job, root)
    listeners = [split, *(listeners or [])]

    def listener(event: Event) -> None:
        for f in listeners:
            f(event)

    try:
        summary = run(plan.job_config(job), listener, control, data, plan.job_variants(job))
    finally:
        split.close()
    return {"job": job.index, "status": summary["status"], "streams": None if root else split.streams}


class _PolledControl:
    """A run's control whose stop also follows a backend's `should_stop`."""

    def __init__(self, should_stop: Callable[[], bool]) -> None:
        from .control import Control

        self._control = Control()
        self._should_stop = should_stop

    @property
    def stopped(self) -> bool:
        return self._control.stopped or self._should_stop()

    @property
    def paused(self) -> bool:
        return False

    def wait_while_paused(self) -> None:
        return None


_DATA: dict[tuple[Any, ...], Any] = {}


def job_data(cfg: RunConfig) -> Any:
    """The job's dataset, loaded once per process for each data setting."""
    from .data import load, resolve_device

    key = (cfg.dataset, cfg.data_dir, cfg.cache_dir, cfg.input_scaling, cfg.fallback, cfg.device)
    if key not in _DATA:
        _DATA[key] = load(cfg, resolve_device(cfg.device))
    return _DATA[key]


def execute_job(payload: dict[str, Any], should_stop: Callable[[], bool]) -> dict[str, Any]:
    """One job in a worker process or a Ray task (a top-level function: picklable).

    payload: {"plan": Plan.to_dict(), "job": index, "root": path or None}."""
    plan = Plan.from_dict(payload["plan"], "sweep plan")
    job = plan.jobs[payload["job"]]
    device = getattr(should_stop, "device", None)  # a backend's JobContext: the GPU it pinned
    if device and plan.base.device != "cpu" and device != plan.base.device:
        plan.base = plan.base.replace(device=device)
    root = Path(payload["root"]) if payload.get("root") else None
    return run_job(plan, job, root, _PolledControl(should_stop), job_data(plan.job_config(job)))


def write_streams(root: Path, plan: Plan, job: Job, streams: list[list[dict[str, Any]]]) -> None:
    """Store the runs of a job that ran elsewhere (a Ray task), from their event streams."""
    from .events import from_dict

    for (point, seed), stream in zip(plan.job_runs(job), streams):
        writer = ResultsWriter(root / point.run_dir(seed))
        try:
            for d in stream:
                writer(from_dict(d))
        finally:
            writer.close()


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


def run_summary(root: Path, rel: str) -> dict[str, Any] | None:
    """A run's stored summary, None when it has none (not started, or removed)."""
    path = root / rel / "summary.json"
    try:
        d = read_json(path, "not a readable summary")
    except FileNotFoundError:
        return None
    if not isinstance(d, dict) or not isinstance(d.get("members"), list):
        raise ResultsError(f"{path}: not a run summary")
    return d


def job_done(root: Path, plan: Plan, job: Job) -> bool:
    """Every run of the job finished (status done)."""
    for point, seed in plan.job_runs(job):
        s = run_summary(root, point.run_dir(seed))
        if s is None or s.get("status") != "done":
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
            stored = (run_summary(root, rel) or {}).get("config")
            if not isinstance(stored, dict):
                raise ResultsError(f"{root / rel / 'summary.json'}: not a run summary (no config)")
            planned = plan.run_config(point, seed).to_dict()
            for name, value in planned.items():
                if name in _WHERE_IT_RAN or name not in stored or stored[name] == value:
                    continue
                raise SweepError(
                    f"{root / PLAN_FILE} says {name}={_json(value)} but {rel} was trained with "
                    f"{name}={_json(stored[name])}; refusing to mix them in one table (put "
                    f"{PLAN_FILE} back as it was, or start a new sweep)"
                )


def _json(value: Any) -> str:
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


def clear_job(root: Path, plan: Plan, job: Job) -> None:
    """What one unfinished job left, removed (see clear_jobs)."""
    clear_jobs(root, plan, [job])


# ------------------------------------------------------------------------------ results


def point_results(root: Path, plan: Plan) -> list[dict[str, Any]]:
    """Per point: its values, the runs' summaries found, and the aggregate over seeds (None
    until every seed of the point is done)."""
    out = []
    for point in plan.points:
        summaries = [run_summary(root, point.run_dir(s)) for s in plan.seeds]
        done = [s for s in summaries if s is not None and s.get("status") == "done"]
        complete = len(done) == len(plan.seeds)
        out.append(
            {
                "name": point.name,
                "values": point.values,
                "job": point.job,
                "complete": complete,
                "aggregate": aggregate(done) if complete else None,
            }
        )
    return out


def sweep_results(root: Path, plan: Plan) -> dict[str, Any]:
    points = point_results(root, plan)
    return {
        "version": PLAN_VERSION,
        "axes": [[n, vs] for n, vs in plan.axes],
        "seeds": plan.seeds,
        "activations": list(plan.base.activations),
        "baseline": plan.base.baseline,
        "thresholds": list(plan.base.thresholds),
        "complete": all(p["complete"] for p in points),
        "points": points,
        "heatmap": heatmap(plan, points),
        "best_lr": best_lr(plan, points),
    }


def write_results(root: Path, plan: Plan) -> dict[str, Any]:
    """Write each finished point's aggregate.json and the sweep's results; return them."""
    results = sweep_results(root, plan)
    for p in results["points"]:
        if p["aggregate"] is None:
            continue
        where = root / p["name"] if p["name"] else root
        write_file(where / "aggregate.json", json.dumps(p["aggregate"], indent=2) + "\n", replace=True)
    if plan.axes:
        write_file(root / RESULTS_FILE, json.dumps(results, indent=2) + "\n", replace=True)
    return results


# ------------------------------------------------------------------------------ views


def _iterations(member: dict[str, Any], k: int, seeds: int) -> float | None:
    """Mean sustained crossing of threshold k, counted only when every seed reached it."""
    t = member["thresholds"][k]
    return t["sustained_mean"] if t["reached"] == seeds else None


def heatmap_threshold(plan: Plan, points: list[dict[str, Any]]) -> int | None:
    """The threshold the grid shows: the highest that some activation reaches (in every seed)
    at at least half of the finished points, so that one good point does not leave the rest
    of the grid blank; failing that (few points), the highest reached at any point."""
    n = len(plan.seeds)
    reached: list[set[int]] = []  # per finished point: the thresholds someone reached there
    for p in points:
        agg = p["aggregate"]
        if agg is not None:
            reached.append(
                {
                    k
                    for m in agg["members"]
                    for k in range(len(m["thresholds"]))
                    if _iterations(m, k, n) is not None
                }
            )
    if not reached:
        return None
    counts = {k: sum(k in r for r in reached) for k in set.union(*reached)}
    common = [k for k, c in counts.items() if 2 * c >= len(reached)]
    best = common or list(counts)
    return max(best) if best else None


def heatmap(plan: Plan, points: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Which activation wins where: the fewest iterations to one threshold at each point, a
    grid of rows (all axes but the last) by columns (the last axis)."""
    if not plan.axes:
        return None
    k = heatmap_threshold(plan, points)
    names = [n for n, _ in plan.axes]
    col_axis, col_values = plan.axes[-1]
    row_axes = plan.axes[:-1]
    rows = []
    for combo in itertools.product(*(vs for _, vs in row_axes)):
        cells = []
        for cv in col_values:
            values = dict(zip([n for n, _ in row_axes], combo)) | {col_axis: cv}
            point = next(p for p in points if all(p["values"][n] == values[n] for n in names))
            cells.append(_cell(point, k, len(plan.seeds)))
        rows.append({"values": dict(zip([n for n, _ in row_axes], combo)), "cells": cells})
    return {
        "threshold": None if k is None else plan.base.thresholds[k],
        "row_axes": [n for n, _ in row_axes],
        "column_axis": col_axis,
        "columns": col_values,
        "rows": rows,
    }


def _cell(point: dict[str, Any], k: int | None, seeds: int) -> dict[str, Any]:
    agg = point["aggregate"]
    if agg is None:
        return {"point": point["name"], "state": "unfinished", "winner": None, "iterations": None}
    if k is None:
        return {"point": point["name"], "state": "none", "winner": None, "iterations": None}
    ranked = sorted(
        ((it, m["activation"]) for m in agg["members"] if (it := _iterations(m, k, seeds)) is not None),
        key=lambda x: x[0],
    )
    if not ranked:
        return {"point": point["name"], "state": "none", "winner": None, "iterations": None}
    it, winner = ranked[0]
    return {
        "point": point["name"],
        "state": "reached",
        "winner": winner,
        "iterations": it,
        "runner_up": ranked[1][1] if len(ranked) > 1 else None,
        "runner_up_iterations": ranked[1][0] if len(ranked) > 1 else None,
    }


def best_lr(plan: Plan, points: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Each activation at its own best learning rate, per combination of the other axes:
    best by iterations to the highest threshold it reaches (in every seed) at any lr, ties by
    final accuracy; beside it the same activation at the shared lr (the base config's when it
    is swept, else the sweep's first)."""
    names = [n for n, _ in plan.axes]
    if "lr" not in names:
        return None
    lrs = dict(plan.axes)["lr"]
    shared = plan.base.lr if plan.base.lr in lrs else lrs[0]
    others = [(n, vs) for n, vs in plan.axes if n != "lr"]
    n_seeds = len(plan.seeds)
    out = []
    for combo in itertools.product(*(vs for _, vs in others)):
        fixed = dict(zip([n for n, _ in others], combo))
        at_lr = {}
        for p in points:
            if all(p["values"][n] == v for n, v in fixed.items()) and p["aggregate"] is not None:
                at_lr[p["values"]["lr"]] = p["aggregate"]
        for a, act in enumerate(plan.base.activations):
            options = []
            for lr, agg in at_lr.items():
                m = agg["members"][a]
                reached = [k for k in range(len(m["thresholds"])) if _iterations(m, k, n_seeds) is not None]
                options.append((lr, m, max(reached) if reached else -1))
            if not options:
                continue
            top = max(k for _, _, k in options)

            def score(o: tuple[float, dict[str, Any], int], top: int = top) -> tuple[float, float]:
                lr, m, _ = o
                it = _iterations(m, top, n_seeds) if top >= 0 else None
                final = m["final_accuracy_mean"]
                return (it if it is not None else math.inf, -(final if final is not None else -1.0))

            best = min(options, key=score)
            shared_m = at_lr.get(shared, {}).get("members", [None] * (a + 1))[a] if shared in at_lr else None
            out.append(
                {
                    "values": fixed,
                    "activation": act,
                    "best_lr": best[0],
                    "threshold": plan.base.thresholds[top] if top >= 0 else None,
                    "iterations": _iterations(best[1], top, n_seeds) if top >= 0 else None,
                    "final_accuracy": best[1]["final_accuracy_mean"],
                    "shared_lr": shared,
                    "shared_iterations": _iterations(shared_m, top, n_seeds)
                    if shared_m and top >= 0
                    else None,
                    "shared_final_accuracy": shared_m["final_accuracy_mean"] if shared_m else None,
                }
            )
    return out


def unfinished(root: Path, plan: Plan) -> Iterator[Job]:
    for job in plan.jobs:
        if not job_done(root, plan, job):
            yield job


def saved_sweep_text(directory: str, fmt: str) -> str | None:
    """The tables of a stored sweep, seeds directory or sweep point (None: none of those)."""
    root = Path(directory)
    if (root / PLAN_FILE).is_file():
        plan = load_plan(root)
        if plan.axes:
            return sweep_text(sweep_results(root, plan), fmt)
        seeds = plan.seeds
    elif (root / "aggregate.json").is_file() and not (root / "events.jsonl").exists():
        seeds = sorted(int(d.name[5:]) for d in root.glob("seed-*") if d.name[5:].isdigit())
    else:
        return None
    summaries = [s for s in (run_summary(root, f"seed-{seed}") for seed in seeds) if s is not None]
    if not summaries:
        raise SweepError(f"{root}: no seed has a result yet")
    return seeds_text(aggregate(summaries), summaries, fmt)
