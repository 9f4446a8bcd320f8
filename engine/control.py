"""How a listener steers a running comparison from another thread: stop, pause, resume.

The one stop flag of a run: whoever stops it (a signal handler in batch mode, the engine
process's reader on the app's Stop, a writer that failed) sets it, and every layer reads it
(the training loop, `backends.run_jobs` and its jobs; a worker process sees the driver's
through a shared byte, `experiments.workers`). Plain threading, no PyTorch.
"""

from __future__ import annotations

import threading


class Control:
    """How a listener steers a running comparison from another thread."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused loop must wake up to stop

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self) -> None:
        while not self._running.wait(0.1):
            pass
