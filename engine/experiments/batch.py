"""Batch mode without its terminal: a comparison, or its seeds and sweep, run headless.

Everything `actlab-tui --batch` does between reading its options and printing: the checks
before anything is written, the data, the run or sweep directory (claimed, locked, resumed),
the jobs here, on workers or on Ray, and the tables. What belongs to the terminal comes from
the caller as a `Frontend` (where notes go, a progress listener per run, how a stop request
such as Ctrl+C reaches the run); what to print and how it ended comes back as an `Outcome`.
The exit codes, the signals and the progress line are the command line's (`actlab.tui.batch`).

PyTorch loads inside the functions that train, not when this module is imported.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

from actlab.engine.config import RunConfig, check_data_source
from actlab.engine.control import Control
from actlab.engine.events import Listener

from .jobs import JobContext
from .opened import seeds_at
from .plumbing import train
from .report import summary_text, value_text
from .report_sweeps import seeds_text, sweep_text
from .results import ResultsWriter
from .store import check_run_dir, claim_run_dir, default_run_dir, reading, remove_created
from .sweep_dir import (
    SweepLock,
    check_finished_runs,
    check_sweep_dir,
    clear_jobs,
    load_plan,
    save_plan,
    unfinished,
)
from .sweep_jobs import JobPayload, JobResult, execute_job, job_data, write_streams
from .sweep_plan import Job, Plan, parse_sweep
from .sweep_results import write_results


class Frontend(Protocol):
    """What a headless run needs from the program that started it."""

    err: TextIO  # notes, job lines and failures (the tables are the Outcome's)
    quiet: bool  # no job lines (notes and failures are still written)

    def progress(self) -> Listener | None:
        """A new listener that shows one run's progress; None: none."""

    def stopping(self, message: str, control: Control) -> AbstractContextManager[object]:
        """Around the training: a stop request (Ctrl+C, TERM, HUP) stops `control`, the run's
        one stop flag (the run ends at its next iteration with its results complete), after
        saying `message`; a second one raises KeyboardInterrupt (abort at once)."""


@dataclass
class Outcome:
    """How a headless run ended: where its results are and the tables to print."""

    directory: Path
    tables: str | None = None  # None: nothing to print
    failed: bool = False  # a job failed, or points are unfinished without a stop request
    aborted: str | None = None  # a second stop request aborted it: the line that says so


@dataclass
class SweepOptions:
    """How a batch run repeats: seeds and sweep axes, where its jobs run, what it resumes."""

    seeds: int = 1
    sweep: str | None = None
    resume: str | None = None
    workers: int | None = None  # None: 1 here; with Ray, no cap
    backend: str = "local"
    ray_address: str | None = None

    @property
    def active(self) -> bool:
        return self.seeds > 1 or bool(self.sweep) or self.resume is not None

    @property
    def here(self) -> bool:
        """The jobs run in this process, one after another."""
        return self.backend == "local" and self.workers in (None, 1)


def run_one(config: RunConfig, out: str | None, fmt: str, show_diagnostics: bool, front: Frontend) -> Outcome:
    """One comparison: checked, trained, stored; its table in `fmt` (one of report.FORMATS)."""
    from actlab.engine.data import load, resolve_device
    from actlab.engine.train import check_members

    err = front.err
    config = config.resolve_validation(repeated=False)
    check_data_source(config)
    # the user's functions checked (in a helper, bounded in time) before anything is written
    check_members(config, isolated=True)
    run_dir = Path(out) if out else default_run_dir()
    check_run_dir(run_dir)  # refused before anything is loaded or written
    device = resolve_device(config.device)
    data = load(config, device)  # DataError propagates: one line, exit 2, before any file is written
    if data.notice:
        err.write(f"actlab-tui: note: {data.notice}\n")
    control = Control()
    try:
        with front.stopping("stopping (Ctrl+C again to abort at once)", control):
            writer = ResultsWriter(run_dir)
            progress = front.progress()
            summary = train(config, writer, [] if progress is None else [progress], control, data)
    except KeyboardInterrupt:
        return Outcome(run_dir, aborted=f"aborted; partial results in {run_dir}")
    return Outcome(run_dir, summary_text(summary, fmt, show_diagnostics))


def job_line(plan: Plan, job: Job, i: int, n: int) -> str:
    members = len(job.points) * len(plan.seeds) * len(plan.base.activations)
    shape = ", ".join(f"{k}={value_text(v)}" for k, v in job.shape.items())
    where = f": {shape}" if shape else ""
    return (
        f"job {i} of {n}{where}: {len(job.points)} point(s) x {len(plan.seeds)} seed(s) x "
        f"{len(plan.base.activations)} activations = {members} members in one cohort"
    )


def run_sweep(
    config: RunConfig, out: str | None, fmt: str, opts: SweepOptions, threads: int | None, front: Frontend
) -> Outcome:
    """Seeds and sweep points, planned as cohorts (jobs), run here one after another or on
    workers / Ray, stored as one run per point and seed; then the tables. The sweep's
    directory is locked (SweepLock) from before anything in it is read or written to the end.
    threads: each worker's or Ray task's CPU threads (None: this process's, or the cores shared)."""
    lock = SweepLock()
    try:
        return _run_sweep(config, out, fmt, opts, threads, front, lock)
    finally:
        lock.release()


def _run_sweep(
    config: RunConfig,
    out: str | None,
    fmt: str,
    opts: SweepOptions,
    threads: int | None,
    front: Frontend,
    lock: SweepLock,
) -> Outcome:
    from actlab.engine.train import check_members

    err = front.err
    if opts.resume is not None:
        with reading(opts.resume):
            root = check_sweep_dir(opts.resume)
        lock.acquire(root)  # another process writing it: one line, exit 2, nothing read or removed
        with reading(root):  # a foreign, damaged or unreadable directory: one line, exit 2
            plan = load_plan(root)
            check_finished_runs(root, plan)  # a sweep.json edited since: refused, not mixed
    else:
        axes = parse_sweep(opts.sweep, config) if opts.sweep else []
        # a sweep or seeds chooses (best lr, winners, the verdict): on a validation split
        config = config.resolve_validation(repeated=True)
        plan = Plan.build(config, axes, [config.seed + i for i in range(opts.seeds)])
        root = Path(out) if out else default_run_dir()
        check_run_dir(root)
    check_data_source(plan.base)
    check_members(plan.base, isolated=True)
    with reading(root):
        jobs = list(unfinished(root, plan)) if opts.resume is not None else list(plan.jobs)
    if opts.resume is not None:
        done = len(plan.jobs) - len(jobs)
        err.write(f"resuming {root}: {done} of {len(plan.jobs)} jobs done, {len(jobs)} to run\n")
    if not opts.here:  # refused now (one line), before anything is written
        from . import backends

        if opts.backend == "local":
            backends.plan_local(opts.workers, threads, plan.base.device)
        else:
            backends.check_ray()
    if opts.here and jobs:
        data = job_data(plan.job_config(jobs[0]))  # DataError: one line, exit 2, nothing written
        if data.notice:
            err.write(f"actlab-tui: note: {data.notice}\n")
    created: list[Path] = []
    if opts.resume is None:
        created = claim_run_dir(root)
        try:
            lock.acquire(root)
        except BaseException:
            remove_created(created)
            raise
        save_plan(root, plan)
    clear_jobs(root, plan, jobs)  # what interrupted jobs left: they run again from the start
    control = Control()  # stopped only by a stop request
    failures: list[str] = []
    try:
        with front.stopping("stopping: finished points are kept; --resume runs the rest", control):
            if jobs:
                _run_jobs(plan, jobs, root, opts, threads, front, control, failures)
    except KeyboardInterrupt:
        return Outcome(
            root, aborted=f"aborted; finished points are kept in {root}; --resume {root} runs the rest"
        )
    finally:
        remove_created(created)  # only when nothing at all was written
    results = write_results(root, plan)
    tables = None
    if plan.axes:
        tables = sweep_text(results, fmt)
    else:  # what `--batch --open` prints of the seeds directory: every seed with a result
        seeds = seeds_at(str(root), "seeds", plan.seeds)
        if seeds.summaries:
            tables = seeds_text(seeds.aggregate, seeds.summaries, fmt)
    if not results.complete and not failures and not control.stopped:
        failures.append("unfinished points")
    return Outcome(root, tables, failed=bool(failures))


def _run_jobs(
    plan: Plan,
    jobs: list[Job],
    root: Path,
    opts: SweepOptions,
    threads: int | None,
    front: Frontend,
    control: Control,
    failures: list[str],
) -> None:
    """The jobs, all through `backends.run_jobs`: here one after another (each announced by its
    job line and shown by a progress listener; a job's error ends the sweep, as one run's ends
    a run), or on local worker processes or as Ray tasks (each reported when it ends; a
    failure is one line and the others go on; a Ray task's runs are stored here)."""
    from .backends import run_jobs
    from .jobs import error_line

    err = front.err
    here = opts.here
    root_sent = str(root) if opts.backend == "local" else None
    payloads = [JobPayload(plan, j.index, root_sent) for j in jobs]

    def in_this_process(payload: JobPayload, job: JobContext) -> JobResult:
        if not front.quiet:
            err.write(job_line(plan, jobs[job.index], job.index + 1, len(jobs)) + "\n")
        progress = front.progress()
        return execute_job(payload, job, [] if progress is None else [progress])

    def on_done(i: int, result: JobResult) -> None:
        job = jobs[i]
        if result.streams is not None:
            write_streams(root, plan, job, result.streams)
        if result.status == "error":
            failures.append(f"job {job.index}")
        if not here and not front.quiet:
            err.write(f"{job_line(plan, job, i + 1, len(jobs))}: {result.status}\n")

    def on_failed(i: int, error: BaseException) -> None:
        if here:
            raise error
        failures.append(f"job {jobs[i].index}: {error_line(error)}")
        err.write(f"actlab-tui: job {jobs[i].index} failed: {error_line(error)}\n")

    run_jobs(
        in_this_process if here else execute_job,
        payloads,
        backend=opts.backend,
        workers=1 if here else opts.workers,
        threads=None if here else threads,  # here: this process's setting (`threads.configure`)
        device=plan.base.device,
        ray_address=opts.ray_address,
        on_done=on_done,
        on_failed=on_failed,
        control=control,
    )
