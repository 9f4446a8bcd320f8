"""The app's engine process, the app's side: one child process trains, the UI process listens.

The UI process never imports PyTorch; the child does, once, and is kept for later runs. The
child's side is `actlab.engine.experiments.engine_child` (it trains, stores each run like
batch mode and sends the events); the messages between them are
`actlab.engine.experiments.engine_messages`, pickled by `multiprocessing.connection` over a
socket pair.

`RunHost`, owned by the app, starts the child on demand (`python -P -m MODULE FD APP_PID`,
`-P` keeping the user's working directory off its import path), sends `StartRun`, then
`SetPaused` and `StopRun` the moment the user asks. A reader thread turns what the child
sends into Textual messages (`..messages`); a child that dies is reported as the end of its
run, and the next start brings a fresh one. The child never outlives the app (see
`engine_child`); `stop_all` and `end_all` end every child of this process (the terminal
guard's, `hangup`). Nothing here imports Textual; the child's own output goes to a log file
(the terminal is the app's).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from actlab.engine.config import RunConfig
from actlab.engine.experiments.engine_messages import Quit, RunEnded, SetPaused, StartRun, StopRun

MODULE = "actlab.engine.experiments.engine_child"  # the child: `python -P -m MODULE FD APP_PID`
LOG_NAME = "engine-process.log"
QUIT_WAIT_S = 5.0  # for the child to end its run and exit when the app quits
TERM_WAIT_S = 0.5  # for a terminated child, before it is killed
LOCK_WAIT_S = 0.2  # for the host's lock, from a thread that must not wait on a stuck one


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
