"""The app ends with its terminal, even when its event loop cannot run.

Why this is not a signal handler on the loop: when the terminal goes away (an SSH session
drops, a tmux session is killed), Textual's writer thread fails on the dead terminal and its
bounded queue fills up; the next write blocks the loop's thread for good. A handler that runs
on the loop then never runs, and the app, and the engine process training for it (holding
memory, on a GPU box the GPU), would live on with nobody to see them.

`TerminalGuard`, armed for the time of `App.run`, needs neither the loop nor Textual: a daemon
thread sleeps in poll(2) on the terminal (a hangup shows there as POLLHUP or POLLERR, signal
or not) and on a pipe that SIGHUP and SIGTERM write to (at C level, through
`signal.set_wakeup_fd`, so even a main thread stuck inside a C call cannot hold it back). When
one of them fires, the thread

1. tells every engine process to stop its run now (it is stored as stopped, as by Stop),
2. asks the app to exit the way ctrl+q does, through the loop (a healthy app is done in
   well under a second, restoring the terminal when it is still there),
3. if the process is still here GRACE_S later, ends the engine processes itself (each has
   until ENGINES_BY_S to store its run and leave, then is terminated, then killed) and
   leaves with os._exit(128 + signal), so the whole is over within LIMIT_S of the hangup.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import termios
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

GRACE_S = 2.0  # for the app to exit by itself once asked
ENGINES_BY_S = 3.5  # from the hangup: engine processes still running are ended then
LIMIT_S = 5.0  # the promise (issue 16): the app and its engine processes gone by then
SIGNALS = (signal.SIGTERM, signal.SIGHUP)
_STOP = 0  # a byte no signal has: disarm() wakes the thread with it

# What a hard exit writes when the terminal is still there (a TERM while the loop is stuck):
# leave the alternate screen, show the cursor, stop mouse and focus reporting, paste mode
_RESTORE = b"\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?1004l\x1b[?2004l\x1b[?1049l\x1b[?25h"


class TerminalGuard:
    """Ends the process when its terminal goes away or on SIGTERM/SIGHUP, with or without
    the app's event loop.

    `request_exit(code)` is called from the guard's thread; it should ask the app to exit
    with `code` and return True, or return False when it cannot (no loop yet): the guard then
    goes straight to the hard exit, without the grace. `ending()` does the essentials of a stop
    that need no loop: it is called first; `finish(deadline)` before the hard exit.
    """

    def __init__(
        self,
        request_exit: Callable[[int], bool],
        ending: Callable[[], None],
        finish: Callable[[float], None],
        attrs_before: Callable[[], list[Any] | None] = lambda: None,
    ) -> None:
        self.request_exit = request_exit
        self.ending = ending
        self.finish = finish
        self.attrs_before = attrs_before  # the terminal's mode before the app changed it
        self.fired = threading.Event()
        self.code: int | None = None
        self._wake_r = self._wake_w = -1
        self._ttys: list[int] = []
        self._handlers: dict[int, Any] = {}
        self._wakeup_fd: int | None = None  # set_wakeup_fd's previous fd, to give back
        self._thread: threading.Thread | None = None

    # --- arming ------------------------------------------------------------------------------

    def arm(self) -> None:
        """Install the handlers and start the thread. Signals only from the main thread (Python
        allows no other); the terminal is watched in any case."""
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._ttys = sorted({fd for fd in (0, 1, 2) if _isatty(fd)})
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._handlers[sig] = signal.signal(sig, self._on_signal)
            # at C level: the byte is written the moment the signal arrives, whatever the main
            # thread is doing; the handler above writes it too, in case someone (an asyncio
            # add_signal_handler) takes the wakeup fd over later
            self._wakeup_fd = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        self._thread = threading.Thread(target=self._watch, name="actlab-terminal-guard", daemon=True)
        self._thread.start()

    def reclaim_signals(self) -> None:
        """Take SIGTERM and SIGHUP back from whoever installed a handler since `arm` (Textual's
        web driver does, on the loop: a loop that is stuck would never run it)."""
        if self._thread is None or threading.current_thread() is not threading.main_thread():
            return
        for sig in self._handlers:
            if signal.getsignal(sig) != self._on_signal:
                signal.signal(sig, self._on_signal)

    def disarm(self) -> None:
        """The app ended by itself: give the signals back, stop the thread. Once fired, the
        guard stays: it still ends the process by the deadline should its exit get stuck."""
        if self.fired.is_set() or self._thread is None:
            return
        if self._wakeup_fd is not None:
            signal.set_wakeup_fd(self._wakeup_fd)
            self._wakeup_fd = None
        for sig, handler in self._handlers.items():
            signal.signal(sig, handler)
        self._handlers = {}
        _write_byte(self._wake_w, _STOP)
        self._thread.join(timeout=1.0)
        if not self._thread.is_alive():
            os.close(self._wake_r)
            os.close(self._wake_w)
        self._thread = None

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        _write_byte(self._wake_w, signum)  # nothing else: this runs between any two bytecodes

    # --- the thread -----------------------------------------------------------------------------

    def _watch(self) -> None:
        code = self._wait()
        if code is None:
            return  # disarmed
        self.code = code
        self.fired.set()
        hangup = time.monotonic()
        try:
            self.ending()  # the run stops and is stored while the app winds down
        except Exception:
            pass
        asked = False
        try:
            asked = self.request_exit(code)
        except Exception:
            pass
        if asked:
            # waiting on an Event that nobody sets: a bounded pause on this daemon thread, which
            # ends with the process if the app exits first
            threading.Event().wait(GRACE_S)
        try:
            self.finish(hangup + ENGINES_BY_S)
        except Exception:
            pass
        self._restore_terminal()
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None and not stream.isatty():
                    stream.flush()  # a log redirected to a file keeps its last lines
            except Exception:
                pass
        os._exit(code)

    def _wait(self) -> int | None:
        """Until the terminal hangs up (129) or SIGTERM/SIGHUP arrives (128 + it); None once
        disarmed."""
        poller = select.poll()
        poller.register(self._wake_r, select.POLLIN)
        for fd in self._ttys:
            poller.register(fd, 0)  # no events asked: POLLHUP, POLLERR and POLLNVAL only
        while True:
            for fd, mask in poller.poll():
                if fd == self._wake_r:
                    code = self._read_signal()
                    if code == _STOP:
                        return None
                    if code is not None:
                        return code
                elif mask & select.POLLNVAL:
                    poller.unregister(fd)  # closed by someone: not a hangup
                else:
                    return 128 + signal.SIGHUP

    def _read_signal(self) -> int | None:
        """128 + the first of our signals in the pipe, _STOP, or None for nothing of ours
        (another signal with a Python handler, SIGWINCH say, is written there too)."""
        try:
            data = os.read(self._wake_r, 512)
        except BlockingIOError:
            return None
        for byte in data:
            if byte == _STOP:
                return _STOP
            if byte in SIGNALS:
                return 128 + byte
        return None

    def _restore_terminal(self) -> None:
        """Best effort, and never blocking: a terminal still there after a TERM gets its mode
        and its screen back; a hung-up one is left alone."""
        for fd in sorted(self._ttys, reverse=True)[:1]:  # stderr first: Textual draws there
            ready = select.poll()
            ready.register(fd, select.POLLOUT)
            events = ready.poll(0)
            if not events or events[0][1] & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                return
            try:
                attrs = self.attrs_before()
                if attrs is not None:
                    termios.tcsetattr(fd, termios.TCSANOW, attrs)
                if events[0][1] & select.POLLOUT:
                    os.write(fd, _RESTORE)  # short, and the terminal takes output now
            except (OSError, termios.error):
                pass


def _write_byte(fd: int, value: int) -> None:
    try:
        os.write(fd, bytes((value,)))
    except OSError:
        pass  # the pipe is full: the thread has bytes enough to wake up to


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False
