"""`actlab-tui --batch`: the comparison headless, for scripts and job queues.

Progress goes to stderr, the table (or `--json`) to stdout, the run directory to disk.
Ctrl+C stops the run cleanly, keeps what it has and exits with 130.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from actlab.engine import Control, RunConfig, run
from actlab.engine import threads as cpu_threads
from actlab.engine.config import check_data_source
from actlab.engine.data import load, resolve_device
from actlab.engine.events import (
    EpochFinished,
    Event,
    Listener,
    MemberDiverged,
    Progress,
    RunFinished,
    RunStarted,
)
from actlab.engine.experiments.report import summary_text, value_text
from actlab.engine.experiments.report_sweeps import seeds_text, sweep_text
from actlab.engine.experiments.results import ResultsWriter
from actlab.engine.experiments.store import (
    check_run_dir,
    claim_run_dir,
    default_run_dir,
    reading,
    remove_created,
)
from actlab.engine.experiments.sweep_dir import (
    SweepLock,
    check_finished_runs,
    check_sweep_dir,
    clear_jobs,
    load_plan,
    run_summary,
    save_plan,
    unfinished,
)
from actlab.engine.experiments.sweep_jobs import execute_job, job_data, run_job, write_streams
from actlab.engine.experiments.sweep_plan import Job, Plan, parse_sweep
from actlab.engine.experiments.sweep_results import write_results
from actlab.engine.metrics import aggregate
from actlab.engine.train import check_members

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressDisplay:
    """Epoch, iteration, iterations/s and ETA on stderr: one rewritten line on a terminal,
    a line per epoch (and per notable event) in a log file."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.total = 0
        self.epochs = 0
        self.t0 = time.perf_counter()
        self.width = 0
        self.threads: int | None = None  # as the run's tuner last chose them

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.total = event.total_iterations
            self.epochs = int(event.config["epochs"])
            self.t0 = time.perf_counter()
            names = ", ".join(dict.fromkeys(event.members))  # each activation once
            if event.cohort:
                names = f"{names}, x{len(event.members) // max(1, len(set(event.members)))} variants"
            self._line(
                f"training {len(event.members)} members ({names}) on "
                f"{event.dataset['name']} ({event.dataset['train_size']} train / "
                f"{event.dataset['test_size']} test), {event.device}, {self.total} iterations, "
                f"evaluating every {event.eval_every}",
                final=True,
            )
        elif isinstance(event, Progress):
            if self.tty:
                self._status(event.iteration, event.epoch, event.elapsed_s)
        elif isinstance(event, EpochFinished):
            self.threads = event.threads
            self._status(event.iteration, event.epoch, time.perf_counter() - self.t0, final=not self.tty)
        elif isinstance(event, MemberDiverged):
            self._line(
                f"{event.activation} diverged at iteration {event.iteration} (loss NaN/Inf); "
                "the others go on",
                final=True,
            )
        elif isinstance(event, RunFinished):
            word = {"done": "finished", "stopped": "stopped"}.get(event.status, event.status)
            self._line(f"{word} after {event.iteration} iterations in {_clock(event.elapsed_s)}", final=True)

    def _status(self, it: int, epoch: int, elapsed: float, final: bool = False) -> None:
        rate = it / elapsed if elapsed > 0 else 0.0
        eta = (self.total - it) / rate if rate > 0 else 0.0
        threads = "" if self.threads is None else f"{self.threads} thread{'s' * (self.threads > 1)}  "
        self._line(
            f"epoch {epoch}/{self.epochs}  iteration {it}/{self.total}  {rate:,.0f} it/s  {threads}"
            f"elapsed {_clock(elapsed)}  ETA {_clock(eta)}",
            final=final,
        )

    def _line(self, text: str, final: bool = False) -> None:
        if self.tty:
            pad = max(0, self.width - len(text))
            self.stream.write("\r" + text + " " * pad + ("\n" if final else ""))
            self.width = 0 if final else len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _fan_out(listeners: list[Listener]) -> Listener:
    def listener(event: Event) -> None:
        for f in listeners:
            f(event)

    return listener


class StopSignals:
    """Ctrl+C, a job manager's TERM and a closing terminal (an SSH session dropping, HUP) all
    stop the run at its next iteration with its results complete; a second one aborts at once
    (KeyboardInterrupt). Installed for the `with` block, restored after."""

    def __init__(self, message: str, stop: Callable[[], None]) -> None:
        self.message = message
        self.stop = stop
        self.signum: int | None = None  # the signal that stopped the run
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None:  # a second one: stop at once
            raise KeyboardInterrupt
        self.signum = signum
        try:
            sys.stderr.write(f"\nactlab-tui: {self.message}\n")
        except OSError:
            pass  # the terminal is gone
        self.stop()

    def __enter__(self) -> StopSignals:
        self._previous = {sig: signal.signal(sig, self._handle) for sig in STOP_SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def exit_code(self, failed: bool = False) -> int:
        """128 + TERM/HUP, 130 after Ctrl+C, else 1 when something failed, else 0."""
        if self.signum in (signal.SIGTERM, signal.SIGHUP):
            return 128 + self.signum
        if self.signum is not None:
            return EXIT_INTERRUPTED
        return EXIT_ERROR if failed else EXIT_OK


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


def run_batch(
    config: RunConfig,
    out: str | None,
    fmt: str,
    show_diagnostics: bool,
    quiet: bool,
    seeds: int = 1,
    threads: int | str | None = None,
    sweep: SweepOptions | None = None,
) -> int:
    """Run one comparison headless (or a sweep: seeds and axes); return the exit code.

    fmt: how stdout shows the tables (one of report.FORMATS).
    threads: PyTorch's CPU threads: a count, "auto" (each run chooses them by timing its steps,
    `engine.threads`: not bit-reproducible, said on stderr) or None (this process's count as it
    is: PyTorch's default unless OMP_NUM_THREADS or a caller fixed it)."""
    sweep = sweep or SweepOptions(seeds=seeds)
    if threads is not None:
        cpu_threads.configure(threads)
        if cpu_threads.tuned() and not quiet:
            sys.stderr.write(cpu_threads.NOT_REPRODUCIBLE + "\n")
    with _tables_apart():
        if sweep.active:
            # workers and Ray tasks fix their share of the cores; "auto" tunes in-process jobs only
            return run_sweep(config, out, fmt, quiet, sweep, threads if isinstance(threads, int) else None)
        return _run_one(config, out, fmt, show_diagnostics, quiet)


_tables: TextIO | None = None  # the real stdout while `_tables_apart` lends it to stderr


def _stdout() -> TextIO:
    """Where the tables go: stdout, also while the user's code has stderr for its stdout."""
    return _tables or sys.stdout


@contextmanager
def _tables_apart() -> Iterator[None]:
    """The user's activations run in this process (imported, then called at every training
    step) and may print: what they print goes to stderr, at the descriptor level where stdout
    is one (print, C code and worker processes alike), so stdout holds only the tables and
    `--format json` stays JSON."""
    global _tables
    real = sys.stdout
    if real is None or _tables is not None:
        yield
        return
    real.flush()
    try:
        fd: int | None = real.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None  # not a descriptor (a test's capture): Python-level prints only
    saved = os.dup(1) if fd == 1 else None
    if saved is not None:
        os.dup2(2, 1)
        _tables = open(saved, "w", encoding=real.encoding or "utf-8", closefd=False)  # noqa: SIM115
    else:
        _tables = real
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout = real
        try:
            _tables.flush()
        finally:
            if saved is not None:
                _tables.close()
                os.dup2(saved, 1)
                os.close(saved)
            _tables = None


def _run_one(config: RunConfig, out: str | None, fmt: str, show_diagnostics: bool, quiet: bool) -> int:
    """One comparison: checked, trained, stored, its table on stdout."""
    err = sys.stderr
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
    signals = StopSignals("stopping (Ctrl+C again to abort at once)", control.stop)
    try:
        with signals:
            writer = ResultsWriter(run_dir)
            listeners: list[Listener] = [writer] if quiet else [writer, ProgressDisplay(err)]
            try:
                summary = run(config, _fan_out(listeners), control, data=data)
            finally:
                writer.close()
    except KeyboardInterrupt:
        err.write(f"actlab-tui: aborted; partial results in {run_dir}\n")
        return EXIT_INTERRUPTED
    _stdout().write(summary_text(summary, fmt, show_diagnostics) + "\n")
    _stdout().flush()
    err.write(f"results: {run_dir}\n")
    return signals.exit_code()


def _job_line(plan: Plan, job: Job, i: int, n: int) -> str:
    members = len(job.points) * len(plan.seeds) * len(plan.base.activations)
    shape = ", ".join(f"{k}={value_text(v)}" for k, v in job.shape.items())
    where = f": {shape}" if shape else ""
    return (
        f"job {i} of {n}{where}: {len(job.points)} point(s) x {len(plan.seeds)} seed(s) x "
        f"{len(plan.base.activations)} activations = {members} members in one cohort"
    )


def run_sweep(
    config: RunConfig, out: str | None, fmt: str, quiet: bool, opts: SweepOptions, threads: int | None
) -> int:
    """Seeds and sweep points, planned as cohorts (jobs), run here one after another or on
    workers / Ray, stored as one run per point and seed; then the tables. The sweep's
    directory is locked (SweepLock) from before anything in it is read or written to the end."""
    lock = SweepLock()
    try:
        return _run_sweep(config, out, fmt, quiet, opts, threads, lock)
    finally:
        lock.release()


def _run_sweep(
    config: RunConfig,
    out: str | None,
    fmt: str,
    quiet: bool,
    opts: SweepOptions,
    threads: int | None,
    lock: SweepLock,
) -> int:
    err = sys.stderr
    if opts.resume is not None:
        with reading(opts.resume):
            root = check_sweep_dir(opts.resume)
        lock.acquire(root)  # another process writing it: one line, exit 2, nothing read or removed
        with reading(root):  # a foreign, damaged or unreadable directory: one line, exit 2
            plan = load_plan(root)
            check_finished_runs(root, plan)  # a sweep.json edited since: refused, not mixed
    else:
        axes = parse_sweep(opts.sweep, config) if opts.sweep else []
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
    in_process = opts.backend == "local" and opts.workers in (None, 1)
    if not in_process:  # refused now (one line), before anything is written
        from actlab.engine.experiments import backends

        if opts.backend == "local":
            backends.plan_local(opts.workers, threads, plan.base.device)
        else:
            backends.check_ray()
    if in_process and jobs:
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
    control = Control()
    stop = threading.Event()
    failures: list[str] = []

    def stop_all() -> None:
        control.stop()
        stop.set()

    signals = StopSignals("stopping: finished points are kept; --resume runs the rest", stop_all)
    try:
        with signals:
            if in_process:
                for i, job in enumerate(jobs, 1):
                    if control.stopped:
                        break
                    if not quiet:
                        err.write(_job_line(plan, job, i, len(jobs)) + "\n")
                    cfg = plan.job_config(job)
                    listeners: list[Listener] = [] if quiet else [ProgressDisplay(err)]
                    result = run_job(plan, job, root, control, job_data(cfg), listeners)
                    if result["status"] == "error":
                        failures.append(f"job {job.index}")
            else:
                from actlab.engine.experiments.backends import run_jobs
                from actlab.engine.experiments.jobs import error_line

                payloads = [
                    {
                        "plan": plan.to_dict(),
                        "job": j.index,
                        "root": str(root) if opts.backend == "local" else None,
                    }
                    for j in jobs
                ]

                def on_done(i: int, result: Any) -> None:
                    job = jobs[i]
                    if result.get("streams") is not None:
                        write_streams(root, plan, job, result["streams"])
                    if not quiet:
                        err.write(f"{_job_line(plan, job, i + 1, len(jobs))}: {result['status']}\n")

                def on_failed(i: int, error: Any) -> None:
                    failures.append(f"job {jobs[i].index}: {error_line(error)}")
                    err.write(f"actlab-tui: job {jobs[i].index} failed: {error_line(error)}\n")

                run_jobs(
                    execute_job,
                    payloads,
                    backend=opts.backend,
                    workers=opts.workers,
                    threads=threads,
                    device=plan.base.device,
                    ray_address=opts.ray_address,
                    on_done=on_done,
                    on_failed=on_failed,
                    stop=stop,
                )
    except KeyboardInterrupt:
        err.write(f"actlab-tui: aborted; finished points are kept in {root}; --resume {root} runs the rest\n")
        return EXIT_INTERRUPTED
    finally:
        remove_created(created)  # only when nothing at all was written
    results = write_results(root, plan)
    if plan.axes:
        _stdout().write(sweep_text(results, fmt) + "\n")
    else:
        point = results["points"][0]
        summaries = [s for s in (run_summary(root, f"seed-{seed}") for seed in plan.seeds) if s is not None]
        if point["aggregate"] is not None:
            _stdout().write(seeds_text(point["aggregate"], summaries, fmt) + "\n")
        elif summaries:
            _stdout().write(seeds_text(aggregate(summaries), summaries, fmt) + "\n")
    _stdout().flush()
    err.write(f"results: {root}\n")
    if not results["complete"] and not failures and signals.signum is None:
        failures.append("unfinished points")
    return signals.exit_code(failed=bool(failures))
