"""`actlab-tui --batch`: the comparison headless, for scripts and job queues.

Progress goes to stderr, the table (or `--json`) to stdout, the run directory to disk.
Ctrl+C stops the run cleanly, keeps what it has and exits with 130.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from actlab.engine import Control, ResultsWriter, RunConfig, run
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
from actlab.engine.metrics import aggregate
from actlab.engine.report import aggregate_table, summary_text, threshold_table
from actlab.engine.results import check_run_dir, claim_run_dir, default_run_dir, remove_created, write_file
from actlab.engine.threads import fixed as fix_threads
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
            self._line(
                f"training {len(event.members)} members ({', '.join(event.members)}) on "
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


def seeds_text(agg: dict[str, Any], summaries: list[dict[str, Any]], fmt: str) -> str:
    """What a run of several seeds prints: each seed's table, then the aggregate with the paired
    statements; csv is the aggregate's figures alone (each seed's are in its summary.csv)."""
    if fmt == "json":
        return json.dumps({"aggregate": agg, "runs": summaries}, indent=2)
    if fmt == "csv":
        return aggregate_table(agg, "csv")
    title = "**seed {}**\n\n" if fmt == "md" else "seed {}\n"
    parts = [title.format(s["config"]["seed"]) + threshold_table(s, fmt) for s in summaries]
    return "\n\n".join([*parts, aggregate_table(agg, fmt)])


def run_batch(
    config: RunConfig,
    out: str | None,
    fmt: str,
    show_diagnostics: bool,
    quiet: bool,
    seeds: int = 1,
    threads: int | None = None,
) -> int:
    """Run one comparison headless (or `seeds` of them, seed, seed+1, ...); return the exit code.

    fmt: how stdout shows the tables (one of report.FORMATS).
    threads: PyTorch's CPU threads, fixed; None: each run chooses them by timing its steps
    (`engine.threads`)."""
    if threads is not None:
        fix_threads(threads)
    err = sys.stderr
    check_data_source(config)
    check_members(config)  # the user's functions imported and checked before anything is written
    run_dir = Path(out) if out else default_run_dir()
    check_run_dir(run_dir)  # refused before anything is loaded or written
    device = resolve_device(config.device)
    data = load(config, device)  # DataError propagates: one line, exit 2, before any file is written
    if data.notice:
        err.write(f"actlab-tui: note: {data.notice}\n")
    # with several seeds, the run directory holds one sub-run per seed and aggregate.json
    created = claim_run_dir(run_dir) if seeds > 1 else []
    control = Control()
    stopped_by: int | None = None  # the signal that stopped the run

    def on_signal(signum: int, frame: Any) -> None:
        # Ctrl+C, a job manager's TERM and a closing terminal (an SSH session dropping, HUP)
        # all stop the run at the next iteration with its results complete
        nonlocal stopped_by
        if stopped_by is not None:  # a second one: stop at once
            raise KeyboardInterrupt
        stopped_by = signum
        try:
            err.write("\nactlab-tui: stopping (Ctrl+C again to abort at once)\n")
        except OSError:
            pass  # the terminal is gone
        control.stop()

    summaries: list[dict[str, Any]] = []
    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    try:
        for i in range(seeds):
            cfg = config.replace(seed=config.seed + i)
            directory = run_dir if seeds == 1 else run_dir / f"seed-{cfg.seed}"
            if seeds > 1 and not quiet:
                err.write(f"seed {cfg.seed} ({i + 1} of {seeds}): {directory}\n")
            writer = ResultsWriter(directory)
            listeners: list[Listener] = [writer] if quiet else [writer, ProgressDisplay(err)]
            try:
                summaries.append(run(cfg, _fan_out(listeners), control, data=data))
            finally:
                writer.close()
            if control.stopped:
                break
    except KeyboardInterrupt:
        err.write(f"actlab-tui: aborted; partial results in {run_dir}\n")
        return EXIT_INTERRUPTED
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        remove_created(created)  # only where no seed left a sub-run in it
    if seeds > 1:
        agg = aggregate(summaries)
        write_file(run_dir / "aggregate.json", json.dumps(agg, indent=2) + "\n", replace=False)
        sys.stdout.write(seeds_text(agg, summaries, fmt) + "\n")
    else:
        sys.stdout.write(summary_text(summaries[0], fmt, show_diagnostics) + "\n")
    sys.stdout.flush()
    err.write(f"results: {run_dir}\n")
    if stopped_by in (signal.SIGTERM, signal.SIGHUP):
        return 128 + stopped_by
    return EXIT_INTERRUPTED if control.stopped else EXIT_OK
