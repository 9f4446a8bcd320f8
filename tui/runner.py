"""The training side of the lab: what runs on the worker thread, and only there.

The screen starts `train` in a Textual thread worker. It waits for the one training slot
(so two loops never overlap, however fast runs are restarted), has the engine child process
train (`engine_process`; or trains right here, if asked), stores the run like batch mode
does, and hands events to the UI as messages: progress twice a second, everything else in
small batches at most twice a second (each message is work for the UI).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from actlab.engine import Control, ResultsWriter, RunConfig, read_events, run
from actlab.engine.data import load, resolve_device
from actlab.engine.events import Event, MemberDiverged, Progress, RunFinished, RunStarted
from textual.message import Message

from .engine_process import HOST
from .messages import EngineEvents, RunProgress

Post = Callable[[Message], Any]

BATCH_INTERVAL_S = 0.5  # the most often a batch of events is posted to the UI (each is work)
PROGRESS_INTERVAL_S = 0.5  # the most often progress is; the status line shows it twice a second
REPLAY_BATCH = 500  # events per message when reading a saved run


class LabControl(Control):
    """The engine's Control that also counts as stopped once its worker is cancelled (by a
    restart or by quitting), so the loop ends within one iteration either way."""

    def __init__(self) -> None:
        super().__init__()
        self._cancelled: Callable[[], bool] = lambda: False

    def bind_cancelled(self, cancelled: Callable[[], bool]) -> None:
        self._cancelled = cancelled

    @property
    def stopped(self) -> bool:
        return super().stopped or self._cancelled()

    def wait_while_paused(self) -> None:
        # the engine's wait only wakes on resume/stop; a cancelled worker must wake it too
        while self.paused and not self.stopped:
            time.sleep(0.05)


class TrainingSlot:
    """One training loop at a time: a lock, plus counts that tests read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self.waiting_or_running = 0  # train() calls not yet returned
        self.running = 0  # engine loops inside the slot now
        self.most_running = 0  # the most that were ever inside at once

    @contextmanager
    def track(self) -> Iterator[None]:
        """Count a train() call from its start to its return, waiting included."""
        with self._count_lock:
            self.waiting_or_running += 1
        try:
            yield
        finally:
            with self._count_lock:
                self.waiting_or_running -= 1

    @contextmanager
    def hold(self, control: Control) -> Iterator[bool]:
        """Wait for the slot, giving up (yielding False) if the run is stopped meanwhile."""
        got = False
        while not got:
            if control.stopped:
                yield False
                return
            got = self._lock.acquire(timeout=0.05)
        try:
            with self._count_lock:
                self.running += 1
                self.most_running = max(self.most_running, self.running)
            yield True
        finally:
            with self._count_lock:
                self.running -= 1
            self._lock.release()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no loop holds the slot (its last event is then on disk)."""
        if self._lock.acquire(timeout=timeout):
            self._lock.release()
            return True
        return False


SLOT = TrainingSlot()


class EventRelay:
    """The engine's listener on the training thread: store each event, pass it on to the UI.

    Progress goes at most every PROGRESS_INTERVAL_S (a newer one supersedes it; the one a
    pause or stop sends goes at once). Other events wait for at most BATCH_INTERVAL_S and go
    as one message; the start, the end and a divergence go at once.
    """

    def __init__(
        self, post: Post, run_id: int, writer: ResultsWriter | None, control: Control | None = None
    ) -> None:
        self.post = post
        self.run_id = run_id
        self.writer = writer
        self.control = control
        self.pending: list[Event] = []
        self.last_post = 0.0
        self.last_progress = 0.0

    def __call__(self, event: Event) -> None:
        if self.writer is not None:
            self.writer(event)
        if isinstance(event, Progress):
            now = time.monotonic()
            held = self.control is not None and (self.control.paused or self.control.stopped)
            if held or now - self.last_progress >= PROGRESS_INTERVAL_S:
                self.last_progress = now
                self.flush()
                self.post(RunProgress(self.run_id, event.iteration, event.epoch, event.elapsed_s))
            return
        self.pending.append(event)
        urgent = isinstance(event, (RunStarted, RunFinished, MemberDiverged))
        if urgent or time.monotonic() - self.last_post >= BATCH_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            batch, self.pending = self.pending, []
            self.post(EngineEvents(self.run_id, batch))
            self.last_post = time.monotonic()


ENGINES = ("process", "thread")


@dataclass
class RunRequest:
    """One run the screen asked for."""

    run_id: int
    config: RunConfig
    control: LabControl = field(default_factory=LabControl)
    run_dir: Path | None = None  # None: not saved (tests)
    engine: str = "process"  # where the loop runs: a child process, or this worker thread


def train(request: RunRequest, post: Post, cancelled: Callable[[], bool]) -> dict[str, Any] | None:
    """Run one comparison from this (worker) thread; None if it was stopped before it began.

    With engine "process" (the app's default) the loop runs in the engine child process on
    all of PyTorch's threads, and this thread relays its events; with "thread" it runs here,
    on one core fewer. Either way events are stored here and posted to the UI. Errors
    propagate: the screen's worker handler shows them.
    """
    control = request.control
    control.bind_cancelled(cancelled)
    with SLOT.track(), SLOT.hold(control) as got:
        if not got:
            _remove_if_empty(request.run_dir)
            return None
        writer = ResultsWriter(request.run_dir) if request.run_dir is not None else None
        relay = EventRelay(post, request.run_id, writer, control)
        summary = None
        try:
            if request.engine == "thread":
                summary = _train_here(request.config, relay, control)
            else:
                summary = HOST.run(request.config, relay, control, threads=torch.get_num_threads())
        finally:
            relay.flush()
            if writer is not None:
                writer.close()
            if summary is None:
                _remove_if_empty(request.run_dir)
        return summary


def _train_here(config: RunConfig, relay: EventRelay, control: Control) -> dict[str, Any] | None:
    device = resolve_device(config.device)
    data = load(config, device)
    if control.stopped:  # loading can take seconds; the user may have moved on
        return None
    if device.type == "cpu":
        leave_a_core_for_the_ui()
    return run(config, relay, control, data=data)


def leave_a_core_for_the_ui() -> None:
    """Train on all cores but one (the "thread" engine only). PyTorch's CPU threads spin while
    they wait for each other, so when the UI thread needs a core they stall: on a 2-core
    machine a run measured 5-7x slower with 2 threads and the UI busy than with 1 thread."""
    cores = os.cpu_count() or 1
    wanted = max(1, cores - 1)
    if torch.get_num_threads() > wanted:
        torch.set_num_threads(wanted)


def _remove_if_empty(directory: Path | None) -> None:
    """The screen makes each run's folder up front; one that never ran leaves nothing behind
    (the results writer's still empty event file included)."""
    if directory is not None:
        try:
            events = directory / "events.jsonl"
            if events.is_file() and events.stat().st_size == 0:
                events.unlink()
            directory.rmdir()
        except OSError:
            pass  # not empty, or already gone


def replay(directory: str | Path, run_id: int, post: Post, cancelled: Callable[[], bool]) -> None:
    """Read a saved run and post its events in large batches (on a worker thread, so a long
    run's file does not freeze the screen)."""
    batch: list[Event] = []
    for event in read_events(directory):
        if cancelled():
            return
        batch.append(event)
        if len(batch) >= REPLAY_BATCH:
            post(EngineEvents(run_id, batch))
            batch = []
    if batch:
        post(EngineEvents(run_id, batch))
