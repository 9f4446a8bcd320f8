"""What `backends.run_jobs` and its callers share: a job's context, the summary of a run of
jobs, the resources resolved for it, and one line for a failed job. No PyTorch, no processes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from actlab.engine.control import Control

POLL_S = 0.1  # how often the driver looks at its `Control` while it waits for jobs

P = TypeVar("P")  # a job's payload
R = TypeVar("R")  # a job's result


@dataclass(frozen=True)
class JobContext:
    """What a running job is given: its position among the payloads, the device and CPU
    threads it trains with, and the run's one stop flag: ``control.stopped`` turns True when
    the caller stops the run. In this process that is the caller's own `Control`; in a worker
    process the same flag read across processes (`workers`); in a Ray task a `Control` of its
    own, never stopped from outside (Ray cancels the task instead)."""

    index: int
    device: str
    threads: int
    control: Control


JobFn = Callable[[P, JobContext], R]  # generic: JobFn[P, R]
OnDone = Callable[[int, R], None]
OnFailed = Callable[[int, BaseException], None]


@dataclass
class JobsEnded:
    """Which jobs ended how (indices into the payloads, each list in completion order)."""

    done: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    not_run: list[int] = field(default_factory=list)  # never started, or cancelled (Ray)

    def deliver(self, i: int, done: OnDone[R], failed: OnFailed, call: Callable[..., R], *args: Any) -> None:
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
