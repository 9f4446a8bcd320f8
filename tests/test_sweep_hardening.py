"""Sweeps that cannot be corrupted: --resume takes the sweep's lock before it reads or removes
anything, leaves a run another process still writes alone, refuses a plan edited since its
runs were trained, and a sweep larger than MAX_RUNS is refused before anything is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from actlab.engine import RunConfig
from actlab.engine.control import Control
from actlab.engine.data import Dataset
from actlab.engine.events import Evaluation, Event
from actlab.engine.experiments.results import ResultsWriter
from actlab.engine.experiments.sweep_dir import job_done, save_plan
from actlab.engine.experiments.sweep_jobs import JobResult, SplitWriter, run_job
from actlab.engine.experiments.sweep_plan import MAX_RUNS, Plan, SweepError, parse_sweep
from actlab.tui.cli import main
from streams import events

AXES = "lr=0.02,0.2 depth=1,2"  # two jobs (depth 1 and 2) of two points each


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


class _StopAt:
    def __init__(self, control: Control, iteration: int) -> None:
        self.control, self.iteration = control, iteration

    def __call__(self, event: Event) -> None:
        if isinstance(event, Evaluation) and event.iteration >= self.iteration:
            self.control.stop()


def interrupted_sweep(root: Path, config: RunConfig, data: Dataset) -> Plan:
    """Job 0 (depth 1) finished, job 1 (depth 2) stopped part way: what Ctrl+C leaves."""
    plan = Plan.build(config, parse_sweep(AXES, config), [0])
    root.mkdir()
    save_plan(root, plan)
    run_job(plan, plan.jobs[0], root, Control(), data)
    control = Control()
    run_job(plan, plan.jobs[1], root, control, data, [_StopAt(control, 10)])
    assert job_done(root, plan, plan.jobs[0]) and not job_done(root, plan, plan.jobs[1])
    return plan


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under root: its mtime and its bytes."""
    return {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


HOLD = (
    "import sys; from pathlib import Path; from actlab.engine.experiments.sweep_dir import SweepLock; "
    "lock = SweepLock(); lock.acquire(Path(sys.argv[1])); print('locked', flush=True); sys.stdin.read()"
)


@pytest.fixture
def holder() -> Iterator[Callable[[Path], subprocess.Popen[str]]]:
    """Another process that holds a sweep's lock until the test ends (closes its stdin)."""
    procs: list[subprocess.Popen[str]] = []

    def hold(root: Path) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(root)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        return proc

    yield hold
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=60)


# ------------------------------------------------------------------ the lock


def test_resume_of_a_sweep_another_process_holds_exits_2_and_touches_nothing(
    small: RunConfig,
    sample: Dataset,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    holder: Callable[[Path], subprocess.Popen[str]],
) -> None:
    root = tmp_path / "sweep"
    interrupted_sweep(root, small, sample)
    before = snapshot(root)
    proc = holder(root)
    code, _, err = run_cli(["--batch", "-q", "--resume", str(root)], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert f"sweep {root} is being written by another process (pid {proc.pid}); wait for it or stop it" in err
    assert snapshot(root) == before  # nothing read into a plan, nothing removed, nothing trained
    # reading it meanwhile is fine: --open takes no lock
    code, out, err = run_cli(["--batch", "--open", str(root)], capsys)
    assert code == 0 and "lr" in out, err
    assert snapshot(root) == before
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=60)  # the holder gone, its lock goes with it
    code, _, err = run_cli(["--batch", "-q", "--resume", str(root)], capsys)
    assert code == 0, err
    assert "1 of 2 jobs done, 1 to run" in err


def test_a_new_sweep_into_a_directory_another_sweep_holds_is_refused(
    small: RunConfig,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    holder: Callable[[Path], subprocess.Popen[str]],
) -> None:
    """An empty directory, locked by a sweep that has not written its plan yet."""
    root = tmp_path / "empty"
    root.mkdir()
    proc = holder(root)
    args = ["--batch", "-q", "-d", "sample", "--cache-dir", str(small.cache_dir), "--max-iterations", "5"]
    code, _, err = run_cli([*args, "--sweep", "lr=0.02,0.2", "--out", str(root)], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert f"(pid {proc.pid})" in err and "wait for it or stop it" in err
    assert list(root.iterdir()) == [] and root.is_dir()  # an existing directory is kept


def test_two_resumes_at_once_one_proceeds_the_other_exits_2(
    small: RunConfig,
    sample: Dataset,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The second --resume starts while the first trains (from inside its first job): it is
    refused, names the first's pid, and the first finishes the sweep."""
    from actlab.engine.experiments import batch

    root = tmp_path / "sweep"
    plan = interrupted_sweep(root, small, sample)
    second: list[tuple[int, str]] = []
    real_execute_job = batch.execute_job

    def execute_job_and_meanwhile_resume(*args: Any, **kw: Any) -> JobResult:
        if not second:
            second.append(run_cli(["--batch", "-q", "--resume", str(root)], capsys)[::2])
        return real_execute_job(*args, **kw)

    monkeypatch.setattr(batch, "execute_job", execute_job_and_meanwhile_resume)
    code, _, err = run_cli(["--batch", "-q", "--resume", str(root)], capsys)
    assert second and second[0][0] == 2, second
    first_line, refused = second[0][1].splitlines()  # the first's "resuming" line, then the second's
    assert first_line.startswith(f"resuming {root}: 1 of 2 jobs done")
    assert f"sweep {root} is being written by another process (pid {os.getpid()})" in refused
    assert code == 0, err
    assert all(job_done(root, plan, job) for job in plan.jobs)


def test_resume_leaves_a_run_another_writer_holds(
    small: RunConfig, sample: Dataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run whose events.jsonl a writer still holds (a sweep of an older actlab, or a worker
    left running) is not removed and trained again under it: one line, exit 2, nothing touched."""
    root = tmp_path / "sweep"
    plan = interrupted_sweep(root, small, sample)
    point, seed = plan.job_runs(plan.jobs[1])[0]
    live = root / point.run_dir(seed)
    for p in live.iterdir():
        p.unlink()
    live.rmdir()
    writer = ResultsWriter(live)
    try:
        writer(events()[0])  # run_started: the writer is alive and holds its lock
        before = snapshot(root)
        code, _, err = run_cli(["--batch", "-q", "--resume", str(root)], capsys)
        assert code == 2, err
        resuming, refused = err.splitlines()  # what it found, then the one line of the error
        assert resuming.endswith("1 of 2 jobs done, 1 to run")
        assert refused.startswith(f"actlab-tui: error: {live} is being written by another process")
        assert snapshot(root) == before
    finally:
        writer.close()


# ------------------------------------------------------------------ the plan the runs were trained with


def test_resume_refuses_a_plan_edited_since_its_runs_were_trained(
    small: RunConfig, sample: Dataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "sweep"
    interrupted_sweep(root, small.replace(epochs=2), sample)
    plan_file = root / "sweep.json"
    stored = json.loads(plan_file.read_text())
    assert stored["base"]["epochs"] == 2
    stored["base"]["epochs"] = 1  # still a consistent plan: its points and jobs do not hold epochs
    plan_file.write_text(json.dumps(stored, indent=2) + "\n")
    before = snapshot(root)
    code, _, err = run_cli(["--batch", "-q", "--resume", str(root)], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert (
        f"{plan_file} says epochs=1 but lr=0.02,depth=1/seed-0 was trained with epochs=2; "
        "refusing to mix them" in err
    )
    assert snapshot(root) == before  # the stopped job's files are still there
    stored["base"]["epochs"] = 2  # put back: resumes, also with its data cached elsewhere
    stored["base"]["cache_dir"] = str(tmp_path / "another-cache")
    plan_file.write_text(json.dumps(stored, indent=2) + "\n")
    code, _, err = run_cli(["--batch", "-q", "--resume", str(root)], capsys)
    assert code == 0, err


# ------------------------------------------------------------------ size


def test_a_sweep_larger_than_the_cap_is_refused_before_anything_is_written(
    small: RunConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lrs = [round(0.001 * (i + 1), 6) for i in range(100)]
    with pytest.raises(SweepError, match=r"1,100 points \(100 lr x 11 depth\) x 1 seed\(s\) = 1,100 runs"):
        Plan.build(small, [("lr", lrs), ("depth", list(range(1, 12)))], [0])
    with pytest.raises(SweepError, match=r"= 1,200 runs, more than the 1,000 one sweep may hold; use fewer"):
        Plan.build(small, [("lr", lrs[:40])], list(range(30)))
    too_many = ",".join(str(v) for v in range(1, MAX_RUNS + 2))
    with pytest.raises(SweepError, match="sweep axis 'width': 1,001 values, more than the 1,000 runs"):
        parse_sweep(f"width={too_many}", small)
    out = tmp_path / "never"
    code, _, err = run_cli(
        [
            "--batch",
            "-q",
            "-d",
            "sample",
            "--sweep",
            "lr=0.01,0.02,0.03,0.04",
            "--seeds",
            "300",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 2 and err.count("\n") == 1, err
    assert "4 points (4 lr) x 300 seed(s) = 1,200 runs, more than the 1,000" in err
    assert not out.exists()


def test_the_largest_plan_allowed_stays_small_on_disk(small: RunConfig, tmp_path: Path) -> None:
    lrs = [round(0.0001 * (i + 1), 6) for i in range(MAX_RUNS)]
    plan = Plan.build(small, [("lr", lrs)], [0])
    save_plan(tmp_path, plan)
    assert (tmp_path / "sweep.json").stat().st_size < 256 * 1024
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.json"]  # the plan makes no directory


def test_a_jobs_run_directories_are_made_when_it_starts_writing(
    small: RunConfig, sample: Dataset, tmp_path: Path
) -> None:
    plan = Plan.build(small, [("lr", [0.02, 0.2])], [0, 1])
    split = SplitWriter(plan, plan.jobs[0], tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing while its data and cohort are made
    split.close()
    control = Control()
    seen: list[list[str]] = []

    def look(event: Event) -> None:  # after the split writer: what run_started made
        if not seen:
            seen.append(sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("seed-*")))
        control.stop()

    run_job(plan, plan.jobs[0], tmp_path, control, sample, [look])
    assert seen == [["lr=0.02/seed-0", "lr=0.02/seed-1", "lr=0.2/seed-0", "lr=0.2/seed-1"]]


def test_a_large_job_lifts_the_soft_limit_of_open_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each run of a job keeps its events.jsonl open while the job trains."""
    import resource

    from actlab.engine.experiments import sweep_jobs

    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(resource, "getrlimit", lambda which: (1024, 4096))
    monkeypatch.setattr(resource, "setrlimit", lambda which, limits: calls.append(limits))
    sweep_jobs._room_for_files(MAX_RUNS)
    assert calls == [(MAX_RUNS + 256, 4096)]
    calls.clear()
    sweep_jobs._room_for_files(100)  # fits: left alone
    assert calls == []
