"""Jobs on local worker processes (spawned, one job each at a time, replaced when one dies).

`backends.run_jobs` with ``backend="local"`` and more than one worker comes here; the
contract (what a job is given, how a stop and a worker's death are reported) is in
`backends`' docstring. PyTorch loads in the workers, never in the driver from here.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from actlab.engine.control import Control

from .jobs import POLL_S, JobContext, JobFn, JobsEnded, OnDone, OnFailed, P, R, Resources, error_line

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import SpawnContext


# --- local worker processes --------------------------------------------------------------

# Why not ProcessPoolExecutor, nor any multiprocessing Event, Lock, Value or Queue: each of those
# is a SemLock a process holds while it reads or writes, and a process killed while holding one
# (kill -9, the OOM killer, or the SIGTERM a broken ProcessPoolExecutor sends its other workers,
# which often lands inside the stop check since a training job makes one every step) never
# releases it, so every later user blocks for ever (issue 16). ProcessPoolExecutor also misses a
# worker's death until some other event wakes it (in 3.11 it reads the list of its processes
# before it starts the one a submit adds), and kills the healthy jobs of a broken pool with it.
# So each worker has its own two pipes, which only it and the driver use; the driver watches
# the pipes and the processes, replaces a dead worker and fails only the job that worker had.
# The stop flag is the caller's `Control`; the driver mirrors a stop into one shared byte that
# only it writes and the workers read without a lock (`_DriversControl`).


class WorkerDied(RuntimeError):
    """A local worker process ended while it had a job (killed, out of memory)."""


# set in each worker process by _init_worker
_worker_stop: Any = None  # the shared ctypes.c_bool
_worker_parent = 0
_worker_device = "cpu"
_worker_threads = 1


def _init_worker(stop: Any, threads: int, gpu: str | None) -> None:
    """A worker process starts: signals, GPU pin and threads, before torch is imported."""
    global _worker_stop, _worker_parent, _worker_device, _worker_threads
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # the driver handles them: its Control stops
    _worker_stop = stop
    _worker_parent = os.getppid()
    _worker_threads = threads
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu  # this worker's one GPU
        _worker_device = "cuda:0"
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(threads)


class _DriversControl(Control):
    """The driver's `Control` as a job in a worker sees it: stopped once the driver has set the
    shared byte, or has died (an orphan's job winds down), or the job stopped itself (which
    stays in this job: each job gets its own)."""

    @property
    def stopped(self) -> bool:
        shared = _worker_stop is not None and bool(_worker_stop.value)
        return super().stopped or shared or os.getppid() != _worker_parent


def _call_in_worker(fn: JobFn[Any, Any], index: int, payload: Any) -> tuple[bool, Any]:
    """(False, None) when the stop came before the job started, else (True, its result)."""
    control = _DriversControl()
    if control.stopped:
        return False, None
    return True, fn(payload, JobContext(index, _worker_device, _worker_threads, control))


def _worker_main(jobs: Connection, answers: Connection, stop: Any, threads: int, gpu: str | None) -> None:
    """A worker process: jobs one at a time from its pipe, each answered on the other. It ends
    when the driver closes its pipe or dies (an orphan ends too: the pipe reads EOF then)."""
    _init_worker(stop, threads, gpu)
    while True:
        answer: tuple[str, Any]
        try:
            fn, index, payload = jobs.recv()
        except EOFError:
            return
        except Exception as exc:  # the job cannot be unpickled here (its function's module?)
            answer = ("failed", exc)
        else:
            try:
                answer = ("done", _call_in_worker(fn, index, payload))
            except BaseException as exc:  # SystemExit too: the job failed, the worker goes on
                answer = ("failed", exc)
        try:
            answers.send(answer)
        except OSError:  # the driver is gone, or dropped the answers after an error: the end
            return
        except Exception as exc:  # the result or the error cannot be pickled
            what = "result" if answer[0] == "done" else "error"
            answers.send(("failed", RuntimeError(f"its {what} cannot be sent back: {error_line(exc)}")))


class _Worker:
    """One worker process and the two pipes that only it and the driver use."""

    def __init__(self, ctx: SpawnContext, stop: Any, threads: int, gpu: str | None) -> None:
        their_jobs, self.jobs = ctx.Pipe(duplex=False)
        self.answers, their_answers = ctx.Pipe(duplex=False)
        self.process = ctx.Process(
            target=_worker_main, args=(their_jobs, their_answers, stop, threads, gpu), name="actlab-worker"
        )
        self.process.start()
        # only the worker holds its ends now: when it dies, its answers pipe reads EOF here
        their_jobs.close()
        their_answers.close()
        self.job: int | None = None  # the job it has

    def died(self) -> WorkerDied:
        self.process.join()  # its pipe's end is its exit
        code = self.process.exitcode
        how = f"was killed by {signal.Signals(-code).name}" if code and code < 0 else f"exited ({code})"
        return WorkerDied(f"worker process {self.process.pid} {how} while it ran the job")

    def give(self, fn: JobFn[Any, Any], index: int, payload: Any) -> None:
        try:
            self.jobs.send((fn, index, payload))  # pickled first: a bad payload sends nothing
        except OSError:  # it died since it was last seen alive
            raise self.died() from None
        self.job = index

    def answer(self) -> tuple[str, Any]:
        """("done", (started, result)) or ("failed", error); WorkerDied when it died first."""
        self.job = None
        try:
            answer: tuple[str, Any] = self.answers.recv()
        except (EOFError, OSError):  # OSError: it died in the middle of its answer
            raise self.died() from None
        return answer

    def close(self) -> None:
        """Its pipes closed: it ends once its job (told to stop) has returned."""
        self.jobs.close()
        self.answers.close()


def run_pool(
    fn: JobFn[P, R],
    payloads: Sequence[P],
    plan: Resources,
    done: OnDone[R],
    failed: OnFailed,
    control: Control,
) -> JobsEnded:
    assert plan.workers is not None
    ctx = multiprocessing.get_context("spawn")
    shared_stop = ctx.RawValue(ctypes.c_bool, False)  # one byte: a read never sees half a write
    slots: list[_Worker | None] = [None] * plan.workers  # slot k: plan.gpus[k] when on GPUs
    summary = JobsEnded()

    def fail(i: int, error: BaseException) -> None:
        summary.failed.append(i)
        failed(i, error)

    def collect(worker: _Worker) -> None:
        i = worker.job
        assert i is not None
        try:
            kind, value = worker.answer()
        except Exception as exc:  # WorkerDied, or its answer cannot be unpickled here
            fail(i, exc)
            return
        if kind == "failed":
            fail(i, value)
        elif value[0]:
            summary.done.append(i)
            done(i, value[1])
        else:
            summary.not_run.append(i)  # the stop came before it started

    todo = list(range(len(payloads)))
    todo.reverse()  # popped from the end: in order
    try:
        while True:
            if control.stopped:
                shared_stop.value = True  # the workers' view of `control`
                summary.not_run.extend(reversed(todo))
                todo.clear()
            for k, worker in enumerate(slots):  # at most one job per worker: a stop leaves none queued
                if not todo:
                    break
                if worker is not None and worker.job is not None:
                    continue
                if worker is None or not worker.process.is_alive():  # never started, or died idle
                    if worker is not None:
                        worker.close()
                    worker = slots[k] = _Worker(
                        ctx, shared_stop, plan.threads, plan.gpus[k] if plan.gpus else None
                    )
                i = todo.pop()
                try:
                    worker.give(fn, i, payloads[i])
                except Exception as exc:  # the payload cannot be pickled, or the worker died
                    fail(i, exc)
            busy = [w for w in slots if w is not None and w.job is not None]
            if not busy:
                if todo:
                    continue  # every job just handed out failed to go: hand out the next ones
                break
            watched = [w.answers for w in busy] + [w.process.sentinel for w in busy]
            ready = set(multiprocessing.connection.wait(watched, timeout=POLL_S))
            for worker in busy:
                if worker.answers in ready or worker.process.sentinel in ready:
                    collect(worker)
    finally:
        shared_stop.value = True  # on an error in a callback, or an abort: running jobs wind down
        for w in slots:
            if w is not None:
                w.close()
        for w in slots:
            if w is not None:
                w.process.join()
    return summary


# --- Ray -----------------------------------------------------------------------------------
