"""What `backends.run_jobs` and its callers share: a job's context, the summary of a run of
jobs, the resources resolved for it, and one line for a failed job. No PyTorch, no processes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

POLL_S = 0.1  # how often the driver looks at `stop` while it waits for jobs

JobFn = Callable[[Any, "JobContext"], Any]
OnDone = Callable[[int, Any], None]
OnFailed = Callable[[int, BaseException], None]


class JobContext:
    """What a running job is given: call it to know whether to stop; its device and threads."""

    def __init__(self, index: int, device: str, threads: int, should_stop: Callable[[], bool]) -> None:
        self.index = index
        self.device = device
        self.threads = threads
        self._should_stop = should_stop

    def __call__(self) -> bool:
        return self._should_stop()

    def should_stop(self) -> bool:
        return self._should_stop()


@dataclass
class Summary:
    """Which jobs ended how (indices into the payloads, each list in completion order)."""

    done: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    not_run: list[int] = field(default_factory=list)  # never started, or cancelled (Ray)

    def deliver(self, i: int, done: OnDone, failed: OnFailed, call: Callable[..., Any], *args: Any) -> None:
        """Job i's result (`call(*args)`), or its error, to the caller's callback; recorded."""
        try:
            result = call(*args)
        except Exception as exc:
            self.failed.append(i)
            failed(i, exc)
        else:
            self.done.append(i)
            done(i, result)


@dataclass(frozen=True)
class Resources:
    """The resolved resources of a run: checked before anything starts."""

    backend: str
    workers: int | None  # None: Ray schedules every job by its resources
    threads: int
    device: str  # "cpu", "cuda" or "cuda:N" (as the job in this process sees it)
    gpus: tuple[str, ...] = ()  # local workers: the CUDA_VISIBLE_DEVICES value of each slot


def error_line(error: BaseException | str) -> str:
    """One line for a failed job: the original exception's type and message."""
    if isinstance(error, str):
        lines = error.strip().splitlines()
        return lines[-1] if lines else "failed"
    cause = getattr(error, "cause", None)  # Ray's RayTaskError wraps the job's exception
    if isinstance(cause, BaseException):
        error = cause
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
