"""A sweep's job trained: one lockstep cohort of points x seeds, its stream split into runs.

`run_job` trains one job given its plan, control and data; `execute_job` is the job function
of `backends.run_jobs`, the same in this process, a worker process or a Ray task (its payload
and result picklable, its data loaded once per process). PyTorch loads inside the functions
that train, never when this module is imported.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from actlab.engine.config import RunConfig
from actlab.engine.control import Control
from actlab.engine.events import (
    Diagnostics,
    Evaluation,
    Event,
    Listener,
    MemberCosts,
    MemberDiverged,
    RunStarted,
)
from actlab.engine.results_model import Summary

from .jobs import JobContext
from .plumbing import train
from .results import ResultsWriter
from .sweep_plan import Job, Plan, Point

if TYPE_CHECKING:
    from actlab.engine.data import Dataset

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
            val_accuracy=None if event.val_accuracy is None else event.val_accuracy[sl],
            val_loss=None if event.val_loss is None else event.val_loss[sl],
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
        self.streams: list[list[Event]] = [[] for _ in self.runs]
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
                self.streams[v].append(part)

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

    def summaries(self) -> list[Summary]:
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


@dataclass(frozen=True)
class JobPayload:
    """What `execute_job` is sent (pickled to a worker process or a Ray task): the sweep's plan,
    which of its jobs, and the sweep's directory (None: the runs come back as event streams,
    for a job that runs where the directory is not)."""

    plan: Plan
    job: int  # the job's index in plan.jobs
    root: str | None


@dataclass(frozen=True)
class JobResult:
    """How a job ended: its index, its status (the run summary's) and, for a job sent without
    a directory, each run's events (progress left out), in `Plan.job_runs` order."""

    job: int
    status: str
    streams: list[list[Event]] | None = None


def run_job(
    plan: Plan,
    job: Job,
    root: Path | None,
    control: Control,
    data: Dataset,
    listeners: Sequence[Listener] = (),
) -> JobResult:
    """Train one job's cohort, writing its runs under `root` (or keeping their streams), each
    event also to `listeners`."""
    split = SplitWriter(plan, job, root)
    summary = train(plan.job_config(job), split, listeners, control, data, plan.job_variants(job))
    return JobResult(job.index, summary.status, None if root else split.streams)


def job_data(cfg: RunConfig) -> Dataset:
    """The job's dataset: the split the last job of this process used when the data settings
    are the same (`data.load_kept`)."""
    from actlab.engine.data import load_kept, resolve_device

    return load_kept(cfg, resolve_device(cfg.device))


def execute_job(payload: JobPayload, job: JobContext, listeners: Sequence[Listener] = ()) -> JobResult:
    """A sweep's job as `backends.run_jobs` runs it, here, in a worker process or as a Ray task
    (a top-level function: picklable); `listeners` only where nothing is pickled (here).

    Stopped by the backend's `job.control`; on the device the backend gives it where that is
    not the device asked for (a worker pinned to its GPU sees it as cuda:0)."""
    plan = payload.plan
    if plan.base.device != "cpu" and job.device != plan.base.device:
        plan = dataclasses.replace(plan, base=plan.base.replace(device=job.device))
    spec = plan.jobs[payload.job]
    root = Path(payload.root) if payload.root else None
    return run_job(plan, spec, root, job.control, job_data(plan.job_config(spec)), listeners)


def write_streams(root: Path, plan: Plan, job: Job, streams: list[list[Event]]) -> None:
    """Store the runs of a job that ran elsewhere (a Ray task), from their event streams."""
    for (point, seed), stream in zip(plan.job_runs(job), streams):
        writer = ResultsWriter(root / point.run_dir(seed))
        try:
            for event in stream:
                writer(event)
        finally:
            writer.close()
