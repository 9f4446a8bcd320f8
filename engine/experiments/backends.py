"""Run independent jobs in this process, in local worker processes, or as Ray tasks.

A sweep is split into jobs (each a training run writing its own results directory); this
module runs them and knows nothing about what a job is (the local worker pool is `workers`,
the types a caller shares with it `jobs`)::

    summary = run_jobs(fn, payloads, backend="local", workers=2, on_done=..., control=control)

The contract:

- ``fn(payload, job)`` is a top-level function (picklable by reference: importable by its
  module name where it runs) that returns a picklable result; in this process (``workers=1``)
  nothing is pickled, so there it may be any callable. ``job`` is a `JobContext`:
  ``job.control.stopped`` says whether the job should stop; ``job.device`` is the device the
  job should use (``"cpu"``, ``"cuda"`` or ``"cuda:N"``; in this process the device as asked,
  ``"auto"`` included), ``job.threads`` its CPU threads (already set with
  ``torch.set_num_threads``), ``job.index`` its position.
- ``on_done(index, result)`` and ``on_failed(index, error)`` run in the calling thread, once
  per job that ends, in completion order. ``error`` is the exception (for Ray the
  ``RayTaskError``, also an instance of the job's own exception class where Ray can make one);
  `error_line` makes one line of it. A failing job never stops the others. An exception raised
  by a callback ends the run (jobs are told to stop) and propagates.
- ``control`` (a `Control`, stopped by the caller, e.g. from a signal handler): no job starts
  after it is stopped. Locally, running jobs see ``job.control.stopped`` turn True (in this
  process it is the caller's `Control` itself, in a worker its view across processes) and
  their results are still delivered if they return. With Ray, running and pending tasks are cancelled
  (``ray.cancel``: a ``KeyboardInterrupt`` inside the job, so its ``finally`` blocks run) and
  their results dropped; `run_jobs` returns promptly.
- The return value, a `JobsEnded`, lists the indices done, failed and not run (never started,
  or cancelled).

Backends:

- ``"local"``, ``workers=1``: in this process, in order. ``threads``, when given, is set for
  the run and restored after; None leaves this process's setting as it is (the caller's
  `threads.configure`: a fixed count, or the tuner of ``--threads auto``).
- ``"local"``, ``workers>1``: worker processes started with the *spawn* method (never fork:
  the caller may hold threads and a CUDA context), each with its own two pipes to the driver.
  Each worker sets its threads (``torch.set_num_threads`` and the OpenMP/MKL variables) once,
  and ignores SIGINT and SIGHUP: Ctrl+C and a closing terminal reach the whole process group,
  and the driver handles them by stopping ``control``, which the workers see through a shared
  byte. SIGTERM keeps its default in a worker (a TERM aimed at one kills it; its job is
  reported failed). A worker also sees ``job.control.stopped`` when the driver has died, and exits once
  its job has returned. At most one job per worker is handed out at a time, so a stop leaves
  nothing queued. A worker that dies (killed, out of memory) fails its own job with
  `WorkerDied` and is replaced; the other workers' jobs go on. No cross-process lock is
  shared: a worker killed while it held one would freeze every later user of it (issue 16). A
  script that calls `run_jobs` with workers needs the ``if __name__ == "__main__":`` guard
  (spawn imports the main module again in each worker); the ``actlab-tui`` entry point has it.
- ``"ray"``: each job is a Ray task (``num_cpus=threads``, ``num_gpus=1/jobs_per_gpu`` on CUDA,
  no retries: a job whose worker died is reported failed, not run twice over a half-written
  results directory). ``ray_address`` connects to an existing cluster (and only disconnects at
  the end); without it, a local instance is started (``num_cpus`` = this machine's cores, a
  small object store, no dashboard, workers' output not forwarded) and shut down at the end.
  If Ray is already initialised in this process, it is used as it is and left running. The
  function runs on the cluster's workers, so actlab (and the function's module) must be
  installed on every node. ``workers`` caps the jobs in flight (None: Ray schedules them all
  by their resources); ``ray`` is the optional extra ``actlab[ray]``.

Resources, never oversubscribed (a refusal is a `ConfigError`, one line naming the value and
what is allowed):

- Local: ``threads x workers <= cores`` (the CPUs this process may use,
  ``os.sched_getaffinity``); ``threads`` defaults to ``cores // workers``.
- CUDA (``device`` ``"cuda"``, ``"cuda:N"``, or ``"auto"`` where a GPU is visible): one job
  per GPU at a time unless ``jobs_per_gpu`` says more; ``"cuda"`` uses every visible GPU,
  ``"cuda:N"`` only that one. Locally, ``workers`` defaults to the number of GPUs times
  ``jobs_per_gpu`` and more is refused; each worker process is pinned to its GPU with
  ``CUDA_VISIBLE_DEVICES`` (so its jobs see ``job.device == "cuda:0"``). In this process
  (``workers=1``) the job gets the device as asked: it resolves it as a run alone would.
- Ray: a task asking more CPUs than any node has would wait forever, so it is refused; so is
  CUDA on a cluster without GPUs. Ray itself keeps each node's tasks within its CPUs and GPUs.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from typing import Any

from actlab.engine.config import ConfigError
from actlab.engine.control import Control

from .jobs import POLL_S, JobContext, JobFn, JobsEnded, OnDone, OnFailed, P, R, Resources
from .workers import run_pool

BACKENDS = ("local", "ray")
RAY_MISSING = "--backend ray needs ray: pip install 'actlab[ray]'"
# a local Ray instance's shared-memory object store: jobs exchange small payloads and results
LOCAL_OBJECT_STORE_BYTES = 100 * 1024 * 1024


def cores() -> int:
    """The CPUs this process may run on (its affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _visible_gpu_ids() -> list[str]:
    """The GPUs this process sees, as values for a child's CUDA_VISIBLE_DEVICES."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        listed = [s.strip() for s in env.split(",") if s.strip()]
        return listed[:count]
    return [str(i) for i in range(count)]


def _check_positive(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigError(f"--{name} {value!r}: must be a whole number >= 1")


def _check_device(device: str) -> None:
    if device in ("cpu", "auto", "cuda"):
        return
    if device.startswith("cuda:") and device[5:].isdigit():
        return
    raise ConfigError(f"--device {device!r}: use cpu, cuda, cuda:N or auto")


def plan_local(
    workers: int | None,
    threads: int | None,
    device: str,
    jobs_per_gpu: int = 1,
    n_cores: int | None = None,
    gpu_ids: Sequence[str] | None = None,
) -> Resources:
    """Resolve and check a local run's workers, threads and GPUs (`n_cores` and `gpu_ids`:
    what this machine has, looked up when None; given by tests)."""
    _check_device(device)
    _check_positive("workers", workers)
    _check_positive("threads", threads)
    _check_positive("jobs-per-gpu", jobs_per_gpu)
    n = cores() if n_cores is None else n_cores
    slots: tuple[str, ...] = ()
    if device != "cpu":
        ids = list(_visible_gpu_ids() if gpu_ids is None else gpu_ids)
        if device == "auto":
            device = "cuda" if ids else "cpu"
        elif not ids:
            raise ConfigError(f"--device {device}: CUDA is not available on this machine; use cpu or auto")
        if device.startswith("cuda:"):
            k = int(device[5:])
            if k >= len(ids):
                raise ConfigError(f"--device {device}: only {len(ids)} CUDA device(s) here (cuda:0..)")
            ids = [ids[k]]
    if device != "cpu":
        allowed = len(ids) * jobs_per_gpu
        if workers is None:
            workers = allowed
        if workers > allowed:
            raise ConfigError(
                f"--workers {workers}: {len(ids)} GPU(s) for --device {device}, {jobs_per_gpu} job(s) "
                f"per GPU at a time (allowed 1..{allowed}; --jobs-per-gpu shares a GPU)"
            )
        slots = tuple(ids[i % len(ids)] for i in range(workers))
    elif workers is None:
        workers = 1
    if workers > n:
        raise ConfigError(f"--workers {workers}: this machine has {n} core(s) for jobs (allowed 1..{n})")
    if threads is None:
        threads = max(1, n // workers)
    if threads * workers > n:
        raise ConfigError(
            f"--threads {threads} with --workers {workers}: {threads * workers} threads on {n} core(s) "
            f"(allowed threads x workers <= {n})"
        )
    return Resources("local", workers, threads, device, slots)


def run_jobs(
    fn: JobFn[P, R],
    payloads: Sequence[P],
    *,
    backend: str = "local",
    workers: int | None = None,
    threads: int | None = None,
    device: str = "cpu",
    jobs_per_gpu: int = 1,
    ray_address: str | None = None,
    on_done: OnDone[R] | None = None,
    on_failed: OnFailed | None = None,
    control: Control | None = None,
) -> JobsEnded:
    """Run ``fn(payload, job)`` for every payload; see the module's docstring for the contract."""
    if backend not in BACKENDS:
        raise ConfigError(f"--backend {backend!r}: use one of {', '.join(BACKENDS)}")
    if ray_address is not None and backend != "ray":
        raise ConfigError(f"--ray-address {ray_address}: needs --backend ray")
    control = control if control is not None else Control()
    done: OnDone[R] = on_done or (lambda i, r: None)
    failed: OnFailed = on_failed or (lambda i, e: None)
    if backend == "ray":
        return _run_ray(
            fn, payloads, workers, threads, device, jobs_per_gpu, ray_address, done, failed, control
        )
    plan = plan_local(workers, threads, device, jobs_per_gpu)
    if plan.workers == 1:
        return _run_here(fn, payloads, device, threads, done, failed, control)
    return run_pool(fn, payloads, plan, done, failed, control)


# --- in this process ---------------------------------------------------------------------


def _run_here(
    fn: JobFn[P, R],
    payloads: Sequence[P],
    device: str,
    threads: int | None,
    done: OnDone[R],
    failed: OnFailed,
    control: Control,
) -> JobsEnded:
    """The one loop that runs jobs in this process: in order, each given the caller's own
    `control`, none started once it is stopped."""
    import torch

    summary = JobsEnded()
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        for i, payload in enumerate(payloads):
            if control.stopped:
                summary.not_run.extend(range(i, len(payloads)))
                break
            context = JobContext(i, device, torch.get_num_threads(), control)
            summary.deliver(i, done, failed, fn, payload, context)
    finally:
        if threads is not None:
            torch.set_num_threads(before)
    return summary


def _call_in_ray(fn: JobFn[Any, Any], index: int, payload: Any, threads: int, device: str) -> Any:
    """A Ray task: Ray pins it to its GPU (CUDA_VISIBLE_DEVICES); threads set here; a stop
    cancels the task (its Control is never stopped from outside)."""
    from actlab.engine.threads import fixed

    fixed(threads)  # the task's CPUs, fixed: no thread tuner inside a Ray task
    return fn(payload, JobContext(index, device, threads, Control()))


def check_ray() -> None:
    """ConfigError (one line) when the ray extra is not installed."""
    if importlib.util.find_spec("ray") is None:
        raise ConfigError(RAY_MISSING)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    return ray


def _run_ray(
    fn: JobFn[P, R],
    payloads: Sequence[P],
    workers: int | None,
    threads: int | None,
    device: str,
    jobs_per_gpu: int,
    address: str | None,
    done: OnDone[R],
    failed: OnFailed,
    control: Control,
) -> JobsEnded:
    _check_device(device)
    _check_positive("workers", workers)
    _check_positive("threads", threads)
    _check_positive("jobs-per-gpu", jobs_per_gpu)
    if device.startswith("cuda:"):
        raise ConfigError(f"--device {device}: with --backend ray, Ray picks the GPU; use cuda or auto")
    ray = _import_ray()
    n = cores()
    own = not ray.is_initialized()  # a Ray the caller initialised is used and left running
    if own and address is None:
        if workers is not None and workers > n:
            raise ConfigError(f"--workers {workers}: this machine has {n} core(s) for jobs (allowed 1..{n})")
        if threads is None:
            threads = max(1, n // workers) if workers else 1
        if workers is not None and threads * workers > n:
            raise ConfigError(
                f"--threads {threads} with --workers {workers}: {threads * workers} threads on {n} "
                f"core(s) (allowed threads x workers <= {n})"
            )
        if threads > n:
            raise ConfigError(f"--threads {threads}: this machine has {n} core(s) (allowed 1..{n})")
    threads = threads or 1
    if own:
        if address is None:
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            ray.init(
                num_cpus=n,
                object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=True,
                logging_level="WARNING",
            )
        else:
            ray.init(address=address, logging_level="WARNING")
    summary = JobsEnded()
    running: dict[Any, int] = {}  # in flight: ref -> index
    try:
        nodes = [node for node in ray.nodes() if node.get("Alive")]
        most_cpus = max((int(node["Resources"].get("CPU", 0)) for node in nodes), default=0)
        if threads > most_cpus:
            raise ConfigError(
                f"--threads {threads}: no Ray node has that many CPUs (the largest has {most_cpus})"
            )
        gpus = ray.cluster_resources().get("GPU", 0)
        if device == "auto":
            device = "cuda" if gpus else "cpu"
        if device == "cuda" and not gpus:
            raise ConfigError("--device cuda: the Ray cluster has no GPUs; use cpu or auto")
        num_gpus = 1 / jobs_per_gpu if device == "cuda" else 0
        task = ray.remote(_call_in_ray).options(num_cpus=threads, num_gpus=num_gpus, max_retries=0)
        todo = list(range(len(payloads)))
        todo.reverse()
        while todo or running:
            if control.stopped:
                for ref in running:
                    ray.cancel(ref)
                summary.not_run.extend(running.values())
                summary.not_run.extend(reversed(todo))
                running.clear()
                break
            while todo and (workers is None or len(running) < workers):
                i = todo.pop()
                running[task.remote(fn, i, payloads[i], threads, device)] = i
            finished, _ = ray.wait(list(running), num_returns=1, timeout=POLL_S)
            for ref in finished:
                # an error: RayTaskError (the job raised), WorkerCrashedError...
                summary.deliver(running.pop(ref), done, failed, ray.get, ref)
    finally:
        for ref in running:  # only after an error (a callback raised, an abort): nothing left behind
            ray.cancel(ref)
        if own:
            ray.shutdown()  # stops the local instance; from a cluster, only disconnects
    return summary
