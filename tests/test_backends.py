"""experiments.backends: jobs in this process, in spawned worker processes, and as Ray tasks.

The job functions are top-level here (the workers import this module by name). Jobs that
must meet or wait do it on files and on their `Control`, each in a bounded loop that fails
the job rather than hanging; nothing is timed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from actlab.engine import ConfigError
from actlab.engine.control import Control
from actlab.engine.experiments import backends
from actlab.engine.experiments.backends import plan_local, run_jobs
from actlab.engine.experiments.jobs import JobContext, JobsEnded, Resources, error_line
from actlab.engine.experiments.workers import run_pool

PATIENCE = 2000  # polls of 0.05 s: a bound that only a broken backend reaches
TESTS = str(Path(__file__).parent)
DRIVER_BOUND_S = 90  # a driver run in a subprocess ends within this, or it hung (a few s when well)


def _wait_for(path: Path) -> None:
    for _ in range(PATIENCE):
        if path.exists():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{path} never appeared")


def job(payload: Any, ctx: JobContext) -> Any:
    """The sweep's stand-in: ("square", n), ("fail", text), ("meet", dir, me, other),
    ("wait", dir) (start, then wait for the stop), ("after", file) (wait for a file),
    ("poll", file) (wait for a file, checking the stop all along as training does), ("die",),
    ("die_in_stop_check",), ("signal",) (a Ctrl+C and a hangup at itself)."""
    kind = payload[0]
    if kind == "square":
        return payload[1] ** 2, os.getpid(), ctx.device, ctx.threads
    if kind == "fail":
        raise ValueError(payload[1])
    if kind == "meet":  # both jobs of a pair must run at once to get past this
        directory, me, other = Path(payload[1]), payload[2], payload[3]
        (directory / me).touch()
        _wait_for(directory / other)
        return me, os.getpid(), ctx.device, os.environ.get("CUDA_VISIBLE_DEVICES")
    if kind == "wait":
        (Path(payload[1]) / "started").touch()
        for _ in range(PATIENCE):
            if ctx.control.stopped:
                return "stopped"
            time.sleep(0.05)
        return "never told to stop"
    if kind == "after":
        _wait_for(Path(payload[1]))
        return "after"
    if kind == "poll":
        for _ in range(PATIENCE):
            if ctx.control.stopped:
                return "stopped"
            if Path(payload[1]).exists():
                return "polled"
            time.sleep(0.05)
        return "never saw the file"
    if kind == "die":  # a worker killed under its job (out of memory, kill -9)
        os._exit(1)
    if kind == "die_in_stop_check":  # killed at the worst moment (see _die_holding_a_lock)
        sys.setprofile(_die_holding_a_lock)
        _ = ctx.control.stopped  # the stop check that a training step makes
        os._exit(1)  # the check took no cross-process lock: the worker dies just after it
    if kind == "signal":
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGHUP)
        return "still here"
    raise AssertionError(payload)


def _die_holding_a_lock(frame: Any, event: str, arg: Any) -> None:
    """A profile hook: the process dies as soon as it holds a cross-process lock (a SemLock's
    acquire has just returned), as a worker does when the OOM killer or the pool's own SIGTERM
    (sent to the others when one worker dies) lands inside its stop check."""
    owner = type(getattr(arg, "__self__", None))
    if (
        event == "c_return"
        and owner.__module__ == "_multiprocessing"
        and arg.__name__ in ("acquire", "__enter__")
    ):
        os._exit(1)


class Record:
    def __init__(self) -> None:
        self.done: dict[int, Any] = {}
        self.failed: dict[int, str] = {}
        self.order: list[int] = []

    def on_done(self, i: int, result: Any) -> None:
        self.done[i] = result
        self.order.append(i)

    def on_failed(self, i: int, error: BaseException) -> None:
        self.failed[i] = error_line(error)
        self.order.append(i)


# --- in this process -----------------------------------------------------------------------


def test_in_process_runs_in_order_and_reports_a_failure() -> None:
    rec = Record()
    payloads = [("square", 2), ("fail", "bad job"), ("square", 3)]
    summary = run_jobs(job, payloads, threads=1, on_done=rec.on_done, on_failed=rec.on_failed)
    assert rec.order == [0, 1, 2]
    assert rec.done[0][0] == 4 and rec.done[2][0] == 9
    assert rec.done[0][1] == os.getpid()  # in this process
    assert rec.done[0][2:] == ("cpu", 1)
    assert rec.failed == {1: "ValueError: bad job"}
    assert summary == JobsEnded(done=[0, 2], failed=[1], not_run=[])


def test_in_process_restores_torch_threads() -> None:
    import torch

    before = torch.get_num_threads()
    run_jobs(job, [("square", 1)], threads=1)
    assert torch.get_num_threads() == before


def test_stop_before_start_runs_nothing() -> None:
    control = Control()
    control.stop()
    for workers in (1, 2):
        rec = Record()
        summary = run_jobs(
            job,
            [("fail", "must not run")] * 3,
            workers=workers,
            threads=1,
            control=control,
            on_done=rec.on_done,
            on_failed=rec.on_failed,
        )
        assert rec.order == []
        assert summary == JobsEnded(not_run=[0, 1, 2])


def test_in_process_stop_during_a_job() -> None:
    control = Control()
    seen: list[bool] = []

    def stops_itself(payload: Any, ctx: JobContext) -> str:
        seen.append(ctx.control.stopped)
        control.stop()  # what a signal handler does while the job runs
        seen.append(ctx.control.stopped)
        return "kept"

    rec = Record()
    summary = run_jobs(stops_itself, [1, 2, 3], threads=1, control=control, on_done=rec.on_done)
    assert seen == [False, True]
    assert rec.done == {0: "kept"}  # its result is still delivered
    assert summary == JobsEnded(done=[0], not_run=[1, 2])


# --- worker processes ----------------------------------------------------------------------


def test_pool_runs_jobs_at_once_and_maps_results_to_indices(tmp_path: Path) -> None:
    rec = Record()
    payloads = [
        ("meet", str(tmp_path), "a", "b"),
        ("meet", str(tmp_path), "b", "a"),  # only passes if jobs 0 and 1 run together
        ("fail", "job 2 fails"),
        ("square", 5),
        ("square", 6),
    ]
    summary = run_jobs(job, payloads, workers=2, threads=1, on_done=rec.on_done, on_failed=rec.on_failed)
    assert rec.done[0][0] == "a" and rec.done[1][0] == "b"
    assert rec.done[0][1] != rec.done[1][1] != os.getpid()  # two worker processes
    assert rec.failed == {2: "ValueError: job 2 fails"}
    assert rec.done[3][0] == 25 and rec.done[4][0] == 36  # the others go on after a failure
    assert rec.done[3][2:] == ("cpu", 1)
    assert sorted(summary.done) == [0, 1, 3, 4] and summary.failed == [2] and summary.not_run == []


def test_pool_stop_during_tells_running_jobs_and_starts_no_more(tmp_path: Path) -> None:
    control = Control()
    rec = Record()

    def on_done(i: int, result: Any) -> None:
        rec.on_done(i, result)
        if i == 1:  # job 0 is running now (job 1 waited for it): stop, as a signal handler would
            control.stop()

    payloads = [("wait", str(tmp_path)), ("after", str(tmp_path / "started")), ("fail", "must not run")]
    summary = run_jobs(
        job, payloads, workers=2, threads=1, control=control, on_done=on_done, on_failed=rec.on_failed
    )
    assert rec.done == {1: "after", 0: "stopped"}  # the stopped job's result is delivered
    assert rec.failed == {}
    assert summary == JobsEnded(done=[1, 0], not_run=[2])


def test_pool_a_dead_worker_fails_its_job_and_the_rest_go_on() -> None:
    rec = Record()
    payloads = [("die",), ("square", 1), ("square", 2), ("square", 3)]
    summary = run_jobs(job, payloads, workers=2, threads=1, on_done=rec.on_done, on_failed=rec.on_failed)
    assert list(rec.failed) == [0] and rec.failed[0].startswith("WorkerDied: worker process ")
    assert rec.failed[0].endswith(" exited (1) while it ran the job")
    assert {i: rec.done[i][0] for i in (1, 2, 3)} == {1: 1, 2: 4, 3: 9}  # only its own job failed
    assert sorted(summary.done) == [1, 2, 3] and summary.failed == [0] and summary.not_run == []


def test_pool_each_worker_has_its_gpu_and_a_replacement_keeps_it(tmp_path: Path) -> None:
    """Each worker is pinned to one GPU slot (CUDA_VISIBLE_DEVICES: no CUDA needed to see it);
    the worker that replaces a dead one has the dead one's GPU."""
    plan = Resources("local", 2, 1, "cuda", ("5", "7"))
    rec = Record()
    # jobs go to the slots in order: the die to GPU 5, the first meet to GPU 7; the second meet
    # can only start once a new worker has replaced the dead one, and both meets run at once
    payloads = [("die",), ("meet", str(tmp_path), "a", "b"), ("meet", str(tmp_path), "b", "a")]
    summary = run_pool(job, payloads, plan, rec.on_done, rec.on_failed, Control())
    assert summary.failed == [0] and sorted(summary.done) == [1, 2]
    assert rec.done[1][2:] == ("cuda:0", "7") and rec.done[2][2:] == ("cuda:0", "5")


def killed_in_stop_check(directory: str) -> None:
    """Run in a subprocess by the next test: a worker dies inside its stop check while the
    other one checks the stop in a loop, which ends once the death is reported; then two more
    jobs (on the other worker and the dead one's replacement); prints the summary as JSON."""
    rec = Record()
    died = Path(directory) / "died"

    def on_failed(i: int, error: BaseException) -> None:
        rec.on_failed(i, error)
        died.touch()

    payloads = [("die_in_stop_check",), ("poll", str(died)), ("square", 2), ("square", 3)]
    summary = run_jobs(job, payloads, workers=2, threads=1, on_done=rec.on_done, on_failed=on_failed)
    print(json.dumps({"summary": vars(summary), "done": rec.done, "failed": rec.failed}))


def _living(group: int) -> list[int]:
    """The processes of a process group that are not zombies (/proc: Linux)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (name)"
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


def _wait_until_gone(group: int) -> None:
    """Every process of the group ends (polled, bounded); what is left fails the test."""
    for _ in range(PATIENCE):
        if not _living(group):
            return
        time.sleep(0.05)
    left = _living(group)
    os.killpg(group, signal.SIGKILL)
    pytest.fail(f"processes left behind: {left}")


def _start_driver(scenario: str, *args: str) -> subprocess.Popen[str]:
    """`scenario(*args)` (a function of this module) in a new process group (its pid)."""
    code = f"import sys; sys.path.insert(0, {TESTS!r}); import test_backends as t; t.{scenario}(*{args!r})"
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _run_driver(scenario: str, *args: str) -> dict[str, Any]:
    """`scenario(*args)` in a subprocess, bounded: a hang fails the test and takes its workers
    down with it; then no process of its group is left. Its last line of output, parsed."""
    proc = _start_driver(scenario, *args)
    try:
        out, err = proc.communicate(timeout=DRIVER_BOUND_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"the driver hung: no end within {DRIVER_BOUND_S} s")
    assert proc.returncode == 0, err
    _wait_until_gone(proc.pid)  # its workers were joined before it exited
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def test_pool_a_worker_killed_inside_its_stop_check_freezes_nothing(tmp_path: Path) -> None:
    """Issue 16: a worker killed while it held the stop flag's lock left every later reader of
    the flag (the next pool's workers, the driver) blocked for ever. A training job checks the
    flag at every step, so a worker killed at a random moment is often inside that check."""
    result = _run_driver("killed_in_stop_check", str(tmp_path))
    summary = result["summary"]
    assert (sorted(summary["done"]), summary["failed"], summary["not_run"]) == ([1, 2, 3], [0], [])
    assert result["failed"]["0"].startswith("WorkerDied")
    assert result["done"]["1"] == "polled"  # its checks after the death went through
    assert result["done"]["2"][0] == 4 and result["done"]["3"][0] == 9


def orphaned(directory: str) -> None:
    """Run in a subprocess by the next test, which kills it while job 0 runs; job 1 is quick,
    so its worker is idle by then."""
    run_jobs(job, [("wait", directory), ("square", 1)], workers=2, threads=1)


def test_pool_workers_of_a_killed_driver_exit(tmp_path: Path) -> None:
    """The driver killed (kill -9): its running job sees the stop and its worker exits; the
    idle worker exits too."""
    proc = _start_driver("orphaned", str(tmp_path))
    try:
        _wait_for(tmp_path / "started")
    finally:
        proc.kill()
        proc.communicate()
    _wait_until_gone(proc.pid)


def test_pool_workers_ignore_ctrl_c_and_hangup() -> None:
    rec = Record()
    run_jobs(
        job, [("signal",), ("square", 1)], workers=2, threads=1, on_done=rec.on_done, on_failed=rec.on_failed
    )
    assert rec.failed == {}
    assert rec.done[0] == "still here"


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workers": 3}, "--workers 3: this machine has 2 core(s) for jobs (allowed 1..2)"),
        (
            {"workers": 2, "threads": 2},
            "--threads 2 with --workers 2: 4 threads on 2 core(s) (allowed threads x workers <= 2)",
        ),
        ({"workers": 0}, "--workers 0: must be a whole number >= 1"),
        ({"threads": 0}, "--threads 0: must be a whole number >= 1"),
        ({"device": "tpu"}, "--device 'tpu': use cpu, cuda, cuda:N or auto"),
        ({"device": "cuda"}, "--device cuda: CUDA is not available on this machine; use cpu or auto"),
    ],
)
def test_local_refusals_are_one_line(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        plan_local(
            kwargs.pop("workers", None),
            kwargs.pop("threads", None),
            kwargs.pop("device", "cpu"),
            n_cores=2,
            gpu_ids=[],
        )
    assert str(err.value) == message


def test_run_jobs_refuses_before_running(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "cores", lambda: 2)
    for kwargs, message in [
        ({"workers": 5}, "--workers 5: this machine has 2 core(s)"),
        ({"backend": "slurm"}, "--backend 'slurm': use one of local, ray"),
        ({"ray_address": "10.0.0.1:6379"}, "--ray-address 10.0.0.1:6379: needs --backend ray"),
    ]:
        with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
            run_jobs(job, [("fail", "must not run")], **kwargs)


def test_default_threads_share_the_cores() -> None:
    assert plan_local(None, None, "cpu", n_cores=8).threads == 8
    assert plan_local(3, None, "cpu", n_cores=8).threads == 2
    assert plan_local(8, None, "cpu", n_cores=8).threads == 1


def test_cuda_one_job_per_gpu_each_worker_pinned() -> None:
    plan = plan_local(None, None, "cuda", n_cores=16, gpu_ids=["0", "1"])
    assert (plan.workers, plan.threads, plan.gpus, plan.device) == (2, 8, ("0", "1"), "cuda")
    assert plan_local(None, None, "auto", n_cores=4, gpu_ids=["3"]).gpus == ("3",)
    assert plan_local(None, None, "auto", n_cores=4, gpu_ids=[]).device == "cpu"
    # cuda:N: that GPU alone (as this process sees it: CUDA_VISIBLE_DEVICES=4,6 -> cuda:1 is 6)
    assert plan_local(None, None, "cuda:1", n_cores=4, gpu_ids=["4", "6"]).gpus == ("6",)
    # sharing a GPU is asked for explicitly
    assert plan_local(4, None, "cuda", 2, n_cores=4, gpu_ids=["0", "1"]).gpus == ("0", "1", "0", "1")
    with pytest.raises(ConfigError) as err:
        plan_local(3, None, "cuda", n_cores=16, gpu_ids=["0", "1"])
    assert str(err.value) == (
        "--workers 3: 2 GPU(s) for --device cuda, 1 job(s) per GPU at a time "
        "(allowed 1..2; --jobs-per-gpu shares a GPU)"
    )
    with pytest.raises(ConfigError, match=r"^--device cuda:2: only 2 CUDA device\(s\) here"):
        plan_local(None, None, "cuda:2", n_cores=4, gpu_ids=["0", "1"])
    with pytest.raises(ConfigError, match=r"^--workers 4: this machine has 2 core\(s\)"):
        plan_local(None, None, "cuda", n_cores=2, gpu_ids=["0", "1", "2", "3"])


def test_missing_ray_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ConfigError) as err:
        run_jobs(job, [("square", 1)], backend="ray")
    assert str(err.value) == "--backend ray needs ray: pip install 'actlab[ray]'"


def test_error_line() -> None:
    assert error_line(ValueError("bad\nmore")) == "ValueError: bad"
    assert error_line(KeyError()) == "KeyError"
    assert error_line("Traceback ...\nValueError: x\n") == "ValueError: x"


# --- Ray -------------------------------------------------------------------------------------


@pytest.fixture
def ray_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray's workers import `job` by module name, as a cluster's nodes import actlab: the local
    instance's processes inherit this PYTHONPATH (pytest put tests/ on sys.path only here)."""
    here = str(Path(__file__).parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))


def test_ray_local_instance_runs_jobs_and_shuts_down(monkeypatch: pytest.MonkeyPatch, ray_path: None) -> None:
    ray = pytest.importorskip("ray")
    monkeypatch.setattr(backends, "cores", lambda: 2)  # a small local instance on any machine
    rec = Record()
    payloads = [("square", 2), ("fail", "ray job fails"), ("square", 3)]
    summary = run_jobs(job, payloads, backend="ray", on_done=rec.on_done, on_failed=rec.on_failed)
    assert rec.done[0][0] == 4 and rec.done[2][0] == 9
    assert rec.done[0][1] != os.getpid()
    assert rec.done[0][2:] == ("cpu", 1)
    assert rec.failed == {1: "ValueError: ray job fails"}
    assert sorted(summary.done) == [0, 2] and summary.failed == [1] and summary.not_run == []
    assert not ray.is_initialized()  # the instance it started is gone


def test_ray_stop_cancels_and_leaves_the_callers_ray_running(tmp_path: Path, ray_path: None) -> None:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, object_store_memory=80 * 1024 * 1024, include_dashboard=False, log_to_driver=False)
    try:
        control = Control()
        rec = Record()

        def on_done(i: int, result: Any) -> None:
            rec.on_done(i, result)
            control.stop()  # job 0 is running (job 1 waited for it): cancel it, start no more

        payloads = [("wait", str(tmp_path)), ("after", str(tmp_path / "started")), ("square", 4)]
        summary = run_jobs(
            job, payloads, backend="ray", workers=2, control=control, on_done=on_done, on_failed=rec.on_failed
        )
        assert rec.done == {1: "after"} and rec.failed == {}
        assert summary == JobsEnded(done=[1], not_run=[0, 2])
        assert ray.is_initialized()
    finally:
        ray.shutdown()
