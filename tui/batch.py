"""`actlab-tui --batch`: the comparison headless, for scripts and job queues.

Progress goes to stderr, the table (or `--format json`) to stdout, the run directory to disk.
Ctrl+C stops the run cleanly, keeps what it has and exits with 130. The runs themselves (checks,
data, directories, jobs, tables) are `actlab.engine.experiments.batch`; this is the terminal's
part: the progress line, the signals, where the tables go and the exit code.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from actlab.engine import RunConfig
from actlab.engine import threads as cpu_threads
from actlab.engine.control import Control
from actlab.engine.events import (
    EpochFinished,
    Event,
    Listener,
    MemberDiverged,
    Progress,
    RunFinished,
    RunStarted,
)
from actlab.engine.experiments.batch import Outcome, SweepOptions, run_one, run_sweep

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


class StopSignals:
    """Ctrl+C, a job manager's TERM and a closing terminal (an SSH session dropping, HUP) all
    stop the run at its next iteration with its results complete (they stop its `Control`,
    which every job reads); a second one aborts at once (KeyboardInterrupt). Installed for the
    `with` block, restored after."""

    def __init__(self, message: str, control: Control) -> None:
        self.message = message
        self.control = control
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
        self.control.stop()

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


def run_batch(
    config: RunConfig,
    out: str | None,
    fmt: str,
    show_diagnostics: bool,
    quiet: bool,
    seeds: int = 1,
    threads: int | str | None = None,
    sweep: SweepOptions | None = None,
    theory: bool = False,
) -> int:
    """Run one comparison headless (or a sweep: seeds and axes); return the exit code.

    fmt: how stdout shows the tables (one of report.FORMATS).
    threads: PyTorch's CPU threads: a count, "auto" (each run chooses them by timing its steps,
    `engine.threads`: not bit-reproducible, said on stderr) or None (this process's count as it
    is: PyTorch's default unless OMP_NUM_THREADS or a caller fixed it).
    theory: one run's tables are followed by its members' mean-field theory (also theory.json)."""
    sweep = sweep or SweepOptions(seeds=seeds)
    if threads is not None:
        cpu_threads.configure(threads)
        if cpu_threads.tuned() and not quiet:
            sys.stderr.write(cpu_threads.NOT_REPRODUCIBLE + "\n")
    with _tables_apart():
        front = Terminal(sys.stderr, quiet)
        if sweep.active:
            # workers and Ray tasks fix their share of the cores; "auto" tunes in-process jobs only
            outcome = run_sweep(config, out, fmt, sweep, threads if isinstance(threads, int) else None, front)
        else:
            outcome = run_one(config, out, fmt, show_diagnostics, front)
            if theory:
                outcome = _with_theory(outcome, config, fmt)
        return front.finish(outcome)


def _with_theory(outcome: Outcome, config: RunConfig, fmt: str) -> Outcome:
    """The run's tables followed by its theory, stored beside them as theory.json; the input's
    mean square measured on the probe batch, as the first layer saw it."""
    if outcome.aborted is not None or outcome.tables is None:
        return outcome
    from actlab.engine.diagnostics import input_mean_square
    from actlab.engine.experiments.theory import theory_of_run, with_theory, write_theory

    rows = theory_of_run(outcome.directory, input_mean_square(config.resolve_validation(repeated=False)))
    write_theory(outcome.directory, rows)
    return dataclasses.replace(outcome, tables=with_theory(outcome.tables, rows, fmt))


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


class Terminal:
    """The `Frontend` of a batch run in a terminal or a job queue: notes on stderr, the
    progress line (none when quiet), the signals while training; then the tables on stdout
    and the exit code."""

    def __init__(self, err: TextIO, quiet: bool) -> None:
        self.err = err
        self.quiet = quiet
        self.signals: StopSignals | None = None  # the last training's

    def progress(self) -> Listener | None:
        return None if self.quiet else ProgressDisplay(self.err)

    def stopping(self, message: str, control: Control) -> StopSignals:
        self.signals = StopSignals(message, control)
        return self.signals

    def finish(self, outcome: Outcome) -> int:
        """Say how it ended (the tables on stdout, where the results are on stderr); the exit code."""
        if outcome.aborted is not None:
            self.err.write(f"actlab-tui: {outcome.aborted}\n")
            return EXIT_INTERRUPTED
        if outcome.tables is not None:
            _stdout().write(outcome.tables + "\n")
        _stdout().flush()
        self.err.write(f"results: {outcome.directory}\n")
        if self.signals is None:
            return EXIT_ERROR if outcome.failed else EXIT_OK
        return self.signals.exit_code(failed=outcome.failed)
