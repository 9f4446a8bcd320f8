"""The app's engine process, the child's side: it trains the runs the app asks for.

Started by the app (`actlab.tui.engine_process.RunHost`) as
`python -P -m actlab.engine.experiments.engine_child FD APP_PID`. Its main thread trains one
run at a time, stores it like batch mode (`ResultsWriter`) and sends its events up in
`RunEvents` batches (the one place events are batched) and a `RunEnded`; a reader thread takes
requests and acts on control messages (pause, resume, stop) at once. PyTorch loads when the
first run starts, not when this module is imported.

The child never outlives the app: when the app's end of the socket closes (the app exited,
crashed or was killed with -9) or a SIGTERM arrives (sent by the app, by the user, or by the
kernel when the app dies: PR_SET_PDEATHSIG), the run stops, is stored as stopped, and the
child leaves within ORPHAN_GRACE_S; at once when no run is going.
"""

from __future__ import annotations

import ctypes
import os
import queue
import select
import signal
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection

from actlab.engine.control import Control
from actlab.engine.events import Event, MemberDiverged, Progress, RunFinished, RunStarted
from actlab.engine.results_model import Summary

from .engine_messages import Quit, RunEnded, RunEvents, SetPaused, StartRun, StopRun

BATCH_S = 0.25  # the most time an event waits in the child before it goes up to the app
ORPHAN_GRACE_S = 2.0  # for an orphaned child to store its stopped run before it leaves anyway


class _Sender:
    """The run's listener in the child: events go up at most BATCH_S late, at once when they
    start, end or change a run, and when the run pauses (the app then shows where it stands)."""

    def __init__(self, conn: Connection, run_id: int, control: Control, gone: threading.Event) -> None:
        self.conn = conn
        self.run_id = run_id
        self.control = control
        self.gone = gone  # the app is gone: nothing is sent, the run stops and is stored
        self.pending: list[Event] = []
        self.progress: Progress | None = None
        self.progress_paused = False  # `progress` was reported while paused
        self.last = time.monotonic()

    def __call__(self, event: Event) -> None:
        if isinstance(event, Progress):
            self.progress = event
            self.progress_paused = self.control.paused
        else:
            self.pending.append(event)
        urgent = isinstance(event, (RunStarted, RunFinished, MemberDiverged)) or self.control.paused
        if urgent or time.monotonic() - self.last >= BATCH_S:
            self.flush()

    def flush(self) -> None:
        if self.pending or self.progress is not None:
            # paused: the loop waits at `progress`, which it reported after the pause (an event
            # sent between the pause and the loop noticing it, such as the member costs after
            # an epoch, does not say where the loop will hold)
            paused = self.progress is not None and self.progress_paused and self.control.paused
            if not self.gone.is_set():
                try:
                    self.conn.send(RunEvents(self.run_id, self.pending, self.progress, paused))
                except OSError:
                    # the app is gone: stop here, so that the run is stored as stopped (an error
                    # raised into the loop would store it as failed)
                    self.gone.set()
                    self.control.stop()
            self.pending, self.progress = [], None
        self.last = time.monotonic()


class _Child:
    """The child's two threads: the reader (requests and control) and the trainer (main)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.requests: queue.Queue[StartRun | None] = queue.Queue()
        self.controls: dict[int, Control] = {}  # runs sent and not yet ended
        self.gone = threading.Event()  # the app is gone: nothing more is sent to it
        self._leaving = threading.Lock()

    def read(self) -> None:
        """Reader thread: runs go to the trainer's queue; control acts on its run at once."""
        try:
            while True:
                message = self.conn.recv()
                if isinstance(message, StartRun):
                    self.controls[message.run_id] = Control()
                    self.requests.put(message)
                elif isinstance(message, (SetPaused, StopRun)):
                    control = self.controls.get(message.run_id)
                    if control is None:
                        continue
                    if isinstance(message, StopRun):
                        control.stop()
                    elif message.paused:
                        control.pause()
                    else:
                        control.resume()
                elif isinstance(message, Quit):
                    break
        except (EOFError, OSError):
            self.leave(app_gone=True)
            return
        for control in list(self.controls.values()):
            control.stop()
        self.requests.put(None)

    def leave(self, app_gone: bool) -> None:
        """The app is gone (its end of the socket closed) or TERM came (from the app, the user,
        or the kernel when the app died): every run stops and is stored as stopped by the
        trainer, which then exits (telling an app still there); this leaves anyway after
        ORPHAN_GRACE_S, and at once when no run is going (nothing is waited for, not even the
        import of PyTorch)."""
        if app_gone:
            self.gone.set()
        if not self._leaving.acquire(blocking=False):
            return  # the other watcher got there first
        controls = list(self.controls.values())
        for control in controls:
            control.stop()
        self.requests.put(None)
        if controls:
            threading.Event().wait(ORPHAN_GRACE_S)  # the trainer's own exit ends this wait
        _leave()

    def watch_signals(self, wake: int) -> None:
        """Watcher thread: SIGTERM, from the wakeup pipe (see `main`): stop, store, leave."""
        while True:
            select.select([wake], [], [])
            try:
                data = os.read(wake, 64)
            except BlockingIOError:
                continue
            if signal.SIGTERM in data:
                self.leave(app_gone=False)
                return

    def serve(self) -> None:
        from actlab.engine.threads import configure

        while (request := self.requests.get()) is not None:
            control = self.controls[request.run_id]
            try:
                if request.threads is not None:
                    configure(request.threads)  # else PyTorch's default (or OMP_NUM_THREADS), fixed
                summary = self._train(request, control)
                if self.gone.is_set():
                    return  # stored; nobody to tell
                self.conn.send(RunEnded(request.run_id, summary))
            except OSError as exc:
                if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
                    return  # the app is gone
                self._failed(request.run_id, exc)
            except BaseException as exc:  # reported to the app, which shows it
                self._failed(request.run_id, exc)
            finally:
                self.controls.pop(request.run_id, None)

    def _train(self, request: StartRun, control: Control) -> Summary | None:
        try:
            return self._run(request, control)
        finally:
            # the app made the run's folder at Start: a run that failed (a function refused by
            # its check, data that cannot be read) or was stopped before it wrote anything
            # leaves no folder behind
            _remove_if_empty(request.run_dir)

    def _run(self, request: StartRun, control: Control) -> Summary | None:
        from actlab.engine.data import load_kept, resolve_device
        from actlab.engine.experiments.plumbing import train
        from actlab.engine.experiments.results import ResultsWriter
        from actlab.engine.train import check_members

        config = request.config
        if control.stopped:  # stopped while it waited for the run before it
            return None
        # the user's functions, checked in a helper bounded in time (a Stop or the app closing
        # ends the check at once), before any data is loaded
        if not check_members(config, isolated=True, stopped=lambda: control.stopped):
            return None
        sender = _Sender(self.conn, request.run_id, control, self.gone)
        device = resolve_device(config.device)
        data = load_kept(config, device)  # the same split again for the same data settings
        if control.stopped:  # loading can take seconds; the user may have moved on
            return None
        writer = ResultsWriter(request.run_dir) if request.run_dir is not None else None
        try:
            # a writer that fails (the disk is full) stops the run, then it is said (`train`)
            return train(config, writer, [sender], control, data)
        finally:
            sender.flush()

    def _failed(self, run_id: int, exc: BaseException) -> None:
        from actlab.engine import ConfigError, DataError
        from actlab.engine.experiments.store import ResultsError

        traceback.print_exc()
        known = isinstance(exc, (ConfigError, DataError, ResultsError))
        text = str(exc) if known else f"{type(exc).__name__}: {exc}"
        try:
            self.conn.send(RunEnded(run_id, None, text))
        except OSError:
            pass


def _remove_if_empty(directory: str | None) -> None:
    """The app makes each run's folder up front; one that never ran leaves nothing behind
    (the results writer removes the files of a run that ended before its first iteration)."""
    if directory is not None:
        try:
            os.rmdir(directory)
        except OSError:
            pass  # not empty, or already gone


def _leave() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # the run's files are closed; PyTorch's teardown would only delay the app's exit


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_app(app_pid: int | None) -> bool:
    """Have the kernel send SIGTERM when the app dies (Linux); False when it already has: its
    pid is no longer this process's parent."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # no prctl: the socket's end still tells
    return app_pid is None or os.getppid() == app_pid


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the app decides when a run stops
    # SIGTERM reaches the watcher thread through a pipe written at C level, so that a main
    # thread busy in PyTorch (or importing it) does not delay the stop
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    conn = Connection(int(argv[1]))
    child = _Child(conn)
    watcher = threading.Thread(target=child.watch_signals, args=(wake_r,), name="actlab-signals", daemon=True)
    watcher.start()
    if not _die_with_app(int(argv[2]) if len(argv) > 2 else None):
        _leave()  # the app died before the kernel was told to say so
    threading.Thread(target=child.read, name="actlab-engine-reader", daemon=True).start()
    child.serve()
    _leave()


if __name__ == "__main__":
    # run the module's own copy, so the messages' classes are the ones pickle names
    from actlab.engine.experiments.engine_child import main as _main

    _main(sys.argv)
