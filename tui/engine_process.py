"""The app's engine process: one child process trains, the app's UI process only listens.

The UI process never imports PyTorch; the child does, once, and is kept for later runs.
Both sides talk in the dataclasses below, pickled by `multiprocessing.connection` over a
socket pair. The app sends `StartRun`, then `SetPaused` and `StopRun` the moment the user
asks; the child trains one run at a time, stores it like batch mode (`ResultsWriter`), and
sends its events in `RunEvents` batches (the one place events are batched) and a `RunEnded`.

Parent side: `RunHost`, owned by the app. A reader thread turns what the child sends into
Textual messages (`..messages`); a child that dies is reported as the end of its run, and
the next start brings a fresh one.

Child side: `python -P -m actlab.tui.engine_process FD APP_PID`. `-P` keeps the user's
working directory off its import path (a stray `numpy.py` there must not be imported). Its
main thread trains; a reader thread takes requests and acts on control messages at once.
Nothing here imports Textual; the child's own output goes to a log file (the terminal is the
app's).

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
import socket
import subprocess
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from actlab.engine.config import RunConfig
from actlab.engine.control import Control
from actlab.engine.events import Event, MemberDiverged, Progress, RunFinished, RunStarted

MODULE = "actlab.tui.engine_process"
LOG_NAME = "engine-process.log"
BATCH_S = 0.25  # the most time an event waits in the child before it goes up to the app
QUIT_WAIT_S = 5.0  # for the child to end its run and exit when the app quits
ORPHAN_GRACE_S = 2.0  # for an orphaned child to store its stopped run before it leaves anyway
TERM_WAIT_S = 0.5  # for a terminated child, before it is killed
LOCK_WAIT_S = 0.2  # for the host's lock, from a thread that must not wait on a stuck one


# --- what crosses the process boundary ------------------------------------------------------


@dataclass(frozen=True)
class StartRun:
    """App -> child: train this comparison (after any run before it)."""

    run_id: int
    config: RunConfig
    run_dir: str | None  # where to store it; None keeps it in memory only
    threads: int | str | None  # PyTorch CPU threads: a count, "auto" (tuned), None (PyTorch's, fixed)


@dataclass(frozen=True)
class SetPaused:
    """App -> child: pause or resume a run."""

    run_id: int
    paused: bool


@dataclass(frozen=True)
class StopRun:
    """App -> child: stop a run (a queued one never starts)."""

    run_id: int


@dataclass(frozen=True)
class Quit:
    """App -> child: stop whatever runs and exit."""


@dataclass(frozen=True)
class RunEvents:
    """Child -> app: events of a run, in order, and where it stands now."""

    run_id: int
    events: list[Event]
    progress: Progress | None
    paused: bool = False  # the loop is waiting, at `progress`


@dataclass(frozen=True)
class RunEnded:
    """Child -> app: a run is over. `summary` is None when it was stopped before it began;
    `error` is one line when it failed."""

    run_id: int
    summary: dict[str, Any] | None
    error: str | None = None


# --- the app's side -----------------------------------------------------------------------------


Post = Callable[[Any], Any]


class RunHost:
    """The app's engine process: started on demand, kept for later runs, one run at a time.

    `post` receives, on the host's reader thread, each `RunEvents` and `RunEnded` the child
    sends (the app passes `post_message` after turning them into Textual messages). Every
    control method returns at once: the message is on its way.
    """

    def __init__(self, post: Post, threads: int | str | None = None) -> None:
        self.post = post
        self.threads = threads
        self._lock = threading.Lock()  # guards the process, the connection and `active`
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self.active: set[int] = set()  # runs sent and not yet ended
        _HOSTS.add(self)

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def warm_up(self) -> None:
        """Start the child now, so it imports PyTorch while the user reads the form."""
        with self._lock:
            try:
                self._ensure_started()
            except OSError:
                self._discard()  # the first run meets the failure and reports it

    def start(self, run_id: int, config: RunConfig, run_dir: str | None) -> None:
        with self._lock:
            self.active.add(run_id)
            try:
                self._ensure_started()
                self._send(StartRun(run_id, config, run_dir, self.threads))
            except OSError as exc:
                self.active.discard(run_id)
                self._discard()
                self.post(RunEnded(run_id, None, f"cannot start the training process: {exc}"))

    def pause(self, run_id: int) -> None:
        self._control(SetPaused(run_id, True))

    def resume(self, run_id: int) -> None:
        self._control(SetPaused(run_id, False))

    def stop(self, run_id: int) -> None:
        self._control(StopRun(run_id))

    def close(self, timeout: float = QUIT_WAIT_S) -> None:
        """Stop any run (its last event is stored) and end the child."""
        with self._lock:
            if not self.active:  # nothing to store: no need to wait for the child
                self._discard()
                return
            proc = self._proc
            try:
                self._send(Quit())
            except OSError:
                pass
        if proc is not None:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        with self._lock:
            self._discard()

    def quit_now(self) -> None:
        """From any thread, without waiting: ask the child to stop its run, store it and exit
        (the app is going away without its event loop: `hangup`)."""
        if not self._lock.acquire(timeout=LOCK_WAIT_S):
            return  # held by a stuck thread: `end_by` terminates the child, which stops as well
        try:
            if self._conn is not None:
                self._send(Quit())
        except OSError:
            pass
        finally:
            self._lock.release()

    def end_by(self, deadline: float) -> None:
        """From any thread: give the child until `deadline` (time.monotonic()) to exit, then
        terminate it (it stores its stopped run on TERM too), then kill it."""
        proc = self._proc  # read once, without the lock: a stuck thread may hold it
        if proc is None:
            return
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            return
        except subprocess.TimeoutExpired:
            proc.terminate()
        try:
            proc.wait(timeout=TERM_WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()

    # --- inside -----------------------------------------------------------------------------

    def _control(self, message: SetPaused | StopRun) -> None:
        with self._lock:
            if message.run_id in self.active:
                try:
                    self._send(message)
                except OSError:
                    pass  # the reader reports the child's end

    def _send(self, message: object) -> None:
        if self._conn is None:
            raise BrokenPipeError("the training process is not running")
        self._conn.send(message)

    def _ensure_started(self) -> None:
        if self._proc is not None and self._proc.poll() is None and self._conn is not None:
            return
        self._discard()
        ours, theirs = socket.socketpair()
        log = log_path()
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            out: Any = open(log, "wb")
        except OSError:
            out = subprocess.DEVNULL
        try:
            # started from the loop's thread, which lives as long as the app: the child's
            # PR_SET_PDEATHSIG fires when the thread that started it ends
            proc = subprocess.Popen(
                [sys.executable, "-P", "-m", MODULE, str(theirs.fileno()), str(os.getpid())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=_child_env(),
                start_new_session=True,  # a Ctrl+C meant for the app's terminal is not for it
            )
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()  # the child has its copy; ours closing lets EOF mean "child gone"
            if out is not subprocess.DEVNULL:
                out.close()
        conn = Connection(ours.detach())
        self._proc, self._conn = proc, conn
        threading.Thread(target=self._read, args=(proc, conn), name="actlab-host-reader", daemon=True).start()

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._proc, self._conn = None, None

    def _read(self, proc: subprocess.Popen[bytes], conn: Connection) -> None:
        """Reader thread of one child: hand on what it sends until it is gone."""
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            if isinstance(message, RunEnded):
                with self._lock:
                    self.active.discard(message.run_id)
            self.post(message)
        try:
            code = proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        with self._lock:
            if self._proc is not proc:
                return  # replaced or closed on purpose: nothing was lost
            lost, self.active = sorted(self.active), set()
            self._discard()
        for run_id in lost:
            self.post(
                RunEnded(
                    run_id,
                    None,
                    f"the training process ended unexpectedly (exit code {code}); its log: {log_path()}",
                )
            )


# Every host of this process, for `stop_all` and `end_all` (the terminal guard's, `hangup`)
_HOSTS: weakref.WeakSet[RunHost] = weakref.WeakSet()


def stop_all() -> None:
    """Ask every engine process of this process to stop its run and exit; returns at once."""
    for host in list(_HOSTS):
        host.quit_now()


def end_all(deadline: float) -> None:
    """Every engine process of this process ended by `deadline` (time.monotonic()), a little
    after at worst (the time to terminate and kill one)."""
    for host in list(_HOSTS):
        host.end_by(deadline)


def log_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "actlab" / LOG_NAME


def _child_env() -> dict[str, str]:
    """The app's import path for the child (an uninstalled checkout, a test's path), without
    the working directory: modules lying there are the user's, not ours."""
    cwd = os.getcwd()
    paths = [p for p in sys.path if p and os.path.abspath(p) != cwd]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


# --- the child's side ---------------------------------------------------------------------------


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
        self.data_key: tuple[Any, ...] | None = None
        self.data: Any = None
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

    def _train(self, request: StartRun, control: Control) -> dict[str, Any] | None:
        try:
            return self._run(request, control)
        finally:
            # the app made the run's folder at Start: a run that failed (a function refused by
            # its check, data that cannot be read) or was stopped before it wrote anything
            # leaves no folder behind
            _remove_if_empty(request.run_dir)

    def _run(self, request: StartRun, control: Control) -> dict[str, Any] | None:
        from actlab.engine import run
        from actlab.engine.data import check_fits, load, resolve_device
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
        key = (
            config.dataset,
            config.data_dir,
            config.cache_dir,
            config.fallback,
            config.input_scaling,
            str(device),
        )
        if key != self.data_key:
            self.data, self.data_key = None, None  # free the old split before the next
            self.data = load(config, device)  # checks that the batch and the network fit
            self.data_key = key
        else:  # the same split again, for other settings
            check_fits(config, len(self.data.train_x), self.data.n_features, device)
        if control.stopped:  # loading can take seconds; the user may have moved on
            return None
        writer = ResultsWriter(request.run_dir) if request.run_dir is not None else None
        failure: list[BaseException] = []

        def listener(event: Event) -> None:
            if writer is not None and not failure:
                try:
                    writer(event)
                except Exception as exc:  # e.g. the disk is full: stop the run, then say so
                    failure.append(exc)
                    control.stop()
            sender(event)

        try:
            summary = run(config, listener, control, data=self.data)
        finally:
            sender.flush()
            if writer is not None:
                writer.close()
        if failure:
            raise failure[0]
        return summary

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
    from actlab.tui.engine_process import main as _main

    _main(sys.argv)
