"""The app's training loop in a child process, so the UI and the engine never share Python.

In one process the UI thread and the training thread take turns holding Python's lock; on a
2-core machine that cost the engine a fifth of its speed, and PyTorch's second CPU thread
spinning against the UI made it worse (the app had to train on one thread). A child process
has its own interpreter: measured side by side (`make bench`, `tui`), the app then trains on
the same threads as a headless run, at close to its rate.

Parent side: `EngineProcess.run`, called on the app's training worker thread. It sends one
request over a socket, forwards the run's Control (stop, pause, resume) as it changes, and
hands each event the child sends back to the caller's listener, in order. One child serves
one request at a time. It is started once and kept, since importing PyTorch takes a second
or two; `warm_up` starts it when the app opens, so the first Start does not wait for that.

Child side: `python -m actlab.tui.engine_process FD` (a plain subprocess, so it never
re-imports the app's main module, whatever started the app). Its main thread trains; a
reader thread takes requests and control messages. Nothing here imports Textual; the child's
stdout and stderr go to a log file, since the terminal belongs to the app.

Messages are pickled objects with a length prefix: parent to child ("run", config, threads),
("stop",), ("pause",), ("resume",), ("quit",); child to parent ("ready",), ("events",
[event, ...]), ("done", summary or None), ("error", exception).
"""

from __future__ import annotations

import atexit
import os
import pickle
import queue
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actlab.engine import Control, RunConfig
from actlab.engine.events import Event, MemberDiverged, RunFinished, RunStarted

POLL_S = 0.05  # how often the parent looks at the run's Control while it waits for events
START_TIMEOUT_S = 120.0  # for the child's first word (its imports) before it is given up
LOG_NAME = "engine-process.log"
_HEADER = struct.Struct("!I")


class EngineProcessError(RuntimeError):
    """The child failed in a way it could not report as the original exception."""


class Channel:
    """Pickled messages over a stream socket, each prefixed with its length."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._send_lock = threading.Lock()

    def send(self, message: tuple[Any, ...]) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with self._send_lock:
            self.sock.sendall(_HEADER.pack(len(data)) + data)

    def recv(self) -> tuple[Any, ...]:
        (size,) = _HEADER.unpack(self._exactly(_HEADER.size))
        return pickle.loads(self._exactly(size))  # noqa: S301 - our own child, over our own socket

    def ready(self, timeout: float) -> bool:
        return bool(select.select([self.sock], [], [], timeout)[0])

    def _exactly(self, size: int) -> bytes:
        buf = bytearray(size)
        view, got = memoryview(buf), 0
        while got < size:
            n = self.sock.recv_into(view[got:])
            if n == 0:
                raise EOFError("the other side closed the connection")
            got += n
        return bytes(buf)

    def close(self) -> None:
        self.sock.close()


class EngineProcess:
    """One training child process, started on demand and kept for later runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one request at a time; also guards start and close
        self._proc: subprocess.Popen[bytes] | None = None
        self._chan: Channel | None = None
        self._ready = False

    # --- lifecycle --------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def warm_up(self) -> None:
        """Start the child now (it imports PyTorch in the background); no wait. A failure
        here is left for the first run to meet and report."""
        if self._lock.acquire(blocking=False):
            try:
                self._ensure_started()
            except OSError:
                self._discard()
            finally:
                self._lock.release()

    def _ensure_started(self) -> None:
        if self._proc is not None and self._proc.poll() is None and self._chan is not None:
            return
        self._discard()
        ours, theirs = socket.socketpair()
        self._chan = Channel(ours)  # closed by _discard if the start fails
        env = dict(os.environ)
        # the same imports as here (an uninstalled checkout, a test's path) without re-running
        # whatever script started this process
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        log = _log_path()
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            out: Any = open(log, "wb")
        except OSError:
            out = subprocess.DEVNULL
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "actlab.tui.engine_process", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=env,
                start_new_session=True,  # a Ctrl+C meant for the app's terminal is not for it
            )
        finally:
            theirs.close()  # the child has its copy; ours closing lets EOF mean "child gone"
            if out is not subprocess.DEVNULL:
                out.close()
        self._ready = False

    def _discard(self) -> None:
        if self._chan is not None:
            self._chan.close()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc, self._chan, self._ready = None, None, False

    def close(self, timeout: float = 2.0) -> None:
        """Ask the child to exit; end it if it does not."""
        with self._lock:
            if self._chan is not None:
                try:
                    self._chan.send(("quit",))
                except OSError:
                    pass
            if self._proc is not None:
                try:
                    self._proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    pass
            self._discard()

    # --- one run ----------------------------------------------------------------------------

    def run(
        self,
        config: RunConfig,
        listener: Callable[[Event], None],
        control: Control,
        threads: int,
    ) -> dict[str, Any] | None:
        """Train `config` in the child on `threads` CPU threads; feed `listener` each event.

        Returns the summary, or None if the run was stopped before training began (while the
        data loaded). The child's exceptions are raised here as they were raised there.
        """
        with self._lock:
            self._ensure_started()
            assert self._chan is not None
            try:
                self._chan.send(("run", config, threads))
            except OSError as exc:
                raise self._died() from exc
            return self._serve(listener, control)

    def _serve(self, listener: Callable[[Event], None], control: Control) -> dict[str, Any] | None:
        chan = self._chan
        assert chan is not None and self._proc is not None
        started = time.monotonic()
        stop_sent, paused_sent = False, False
        failure: Exception | None = None
        while True:
            try:
                if control.stopped and not stop_sent:
                    chan.send(("stop",))
                    stop_sent = True
                elif not stop_sent and control.paused != paused_sent:
                    paused_sent = control.paused
                    chan.send(("pause",) if paused_sent else ("resume",))
                if not chan.ready(POLL_S):
                    if self._proc.poll() is not None:
                        raise self._died()
                    if not self._ready and time.monotonic() - started > START_TIMEOUT_S:
                        self._discard()
                        raise EngineProcessError(
                            f"the training process did not start in {START_TIMEOUT_S:.0f} s; "
                            f"its log: {_log_path()}"
                        )
                    continue
                message = chan.recv()
            except (EOFError, OSError) as exc:
                raise self._died() from exc
            self._ready = True
            kind = message[0]
            if kind == "events" and failure is None:
                try:
                    for event in message[1]:
                        listener(event)
                except Exception as exc:  # e.g. the results disk is full: stop the run, then say so
                    failure = exc
                    control.stop()
            elif kind == "done":
                if failure is not None:
                    raise failure
                return message[1]
            elif kind == "error":
                raise failure or message[1]
            # "ready" (the child's imports are done) needs nothing more

    def _died(self) -> EngineProcessError:
        code = None
        if self._proc is not None:
            try:
                code = self._proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        self._discard()
        return EngineProcessError(
            f"the training process ended unexpectedly (exit code {code}); its log: {_log_path()}"
        )


def _log_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "actlab" / LOG_NAME


HOST = EngineProcess()
atexit.register(HOST.close)


# ---------------------------------------------------------------------------------- the child


class _ChildControl(Control):
    """The engine's Control; the child's reader thread drives it from the parent's messages."""

    def __init__(self) -> None:
        super().__init__()
        self.before_wait: Callable[[], None] = lambda: None  # sends what is pending

    def wait_while_paused(self) -> None:
        self.before_wait()  # the position at the pause reaches the app now, not at the resume
        while self.paused and not self.stopped:
            time.sleep(POLL_S)


class _Sender:
    """The engine's listener in the child: events go up in batches, at once for the ones that
    start, end or change a run, and at least every BATCH_S otherwise (the app shows progress
    twice a second; every message wakes it)."""

    BATCH_S = 0.25

    def __init__(self, chan: Channel) -> None:
        self.chan = chan
        self.pending: list[Event] = []
        self.last = time.monotonic()

    def __call__(self, event: Event) -> None:
        self.pending.append(event)
        urgent = isinstance(event, (RunStarted, RunFinished, MemberDiverged))
        if urgent or time.monotonic() - self.last >= self.BATCH_S:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            batch, self.pending = self.pending, []
            self.chan.send(("events", batch))
            self.last = time.monotonic()


class _Child:
    """The child's two threads: the reader (requests and control) and the trainer (main)."""

    def __init__(self, chan: Channel) -> None:
        self.chan = chan
        self.requests: queue.Queue[tuple[Any, ...] | None] = (
            queue.Queue()
        )  # ("run", config, threads, control)
        self.control = _ChildControl()
        self.data_key: tuple[Any, ...] | None = None
        self.data: Any = None

    def read(self) -> None:
        """Reader thread: requests go to the trainer; stop/pause/resume act on the run now."""
        try:
            while True:
                message = self.chan.recv()
                kind = message[0]
                if kind == "run":  # its own Control, so a stop that follows it is its own
                    self.control = _ChildControl()
                    self.requests.put((*message, self.control))
                elif kind == "stop":
                    self.control.stop()
                elif kind == "pause":
                    self.control.pause()
                elif kind == "resume":
                    self.control.resume()
                else:
                    break  # "quit"
        except (EOFError, OSError):
            pass  # the app is gone
        self.control.stop()
        self.requests.put(None)

    def serve(self) -> None:
        import torch
        from actlab.engine import run
        from actlab.engine.data import load, resolve_device

        self.chan.send(("ready",))
        while (request := self.requests.get()) is not None:
            _, config, threads, control = request
            sender = _Sender(self.chan)
            control.before_wait = sender.flush
            try:
                torch.set_num_threads(threads)
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
                    self.data = load(config, device)
                    self.data_key = key
                summary = None
                if not control.stopped:  # loading can take seconds; the user may have moved on
                    summary = run(config, sender, control, data=self.data)
                sender.flush()
                self.chan.send(("done", summary))
            except OSError:
                return  # the app is gone
            except BaseException as exc:  # reported to the app, which shows it
                traceback.print_exc()
                try:
                    sender.flush()
                    _send_error(self.chan, exc)
                except OSError:
                    return


def _send_error(chan: Channel, exc: BaseException) -> None:
    """Send the exception itself when it survives pickling, else its one-line text."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own object
        chan.send(("error", exc))
    except (pickle.PicklingError, TypeError, AttributeError):
        chan.send(("error", EngineProcessError(f"{type(exc).__name__}: {exc}")))


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the app decides when a run stops
    chan = Channel(socket.socket(fileno=int(argv[1])))
    child = _Child(chan)
    threading.Thread(target=child.read, name="actlab-engine-reader", daemon=True).start()
    child.serve()


if __name__ == "__main__":
    main(sys.argv)
