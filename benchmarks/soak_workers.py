"""Soak: a sweep whose worker is `kill -9`ed at a random moment finishes (issue 16, item 2).

`python -m benchmarks.soak_workers [REPETITIONS] [--seed N]`

Runs the real `actlab-tui --batch --sweep ... --workers 2` on the bundled sample (3 jobs,
each a few hundred small iterations) and kills one of its worker processes with SIGKILL, as
the OOM killer does, at one of three moments in turn: during start-up (a worker has just been
spawned and is still importing torch), mid-job (a run is training), between jobs (one has
just ended; its worker is taking the next one or is idle). Each repetition then checks:

- the sweep exits on its own within `EXIT_LIMIT_S` of the kill (else a hang: it is killed);
- the killed worker's job, if it had one, is the only one reported failed, as `WorkerDied`
  naming that process, and every other point of the sweep is complete;
- the exit code says so: non-zero exactly when a job failed;
- no process of the sweep is left behind (its process group, read from /proc: Linux).

The delays and the choice of worker come from a seeded generator, so a failing repetition can
be run again. `soak` returns the counts; `benchmarks/soak.py` runs it with the other parts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

MOMENTS = ("start-up", "mid-job", "between-jobs")
# from the moment's trigger: the first worker seen, the first run started, the first job ended
DELAYS_S = {"start-up": (0.0, 1.5), "mid-job": (0.0, 0.8), "between-jobs": (0.0, 0.3)}
WIDTHS = (16, 24, 32)  # one job each: the width changes the cohort's shapes
SWEEP_ARGS = [
    "--batch",
    "-d",
    "sample",
    "--device",
    "cpu",
    "--sweep",
    "width=" + ",".join(map(str, WIDTHS)),
    "--workers",
    "2",
    "--threads",
    "1",
    "--epochs",
    "3",
    "--max-iterations",
    "150",
]
KILL_DEADLINE_S = 120.0  # from the start to the kill: a sweep that never gets there fails
EXIT_LIMIT_S = 120.0  # from the kill to the sweep's exit: past this, a hang
GONE_LIMIT_S = 5.0  # from the sweep's exit to the last of its processes gone
POLL_S = 0.01
FAILED_LINE = re.compile(r"^actlab-tui: job (\d+) failed: (.*)$", re.MULTILINE)
DONE_LINE = re.compile(r"^job \d+ of \d+: .*: \w+$", re.MULTILINE)


def sweep_command() -> list[str]:
    exe = Path(sys.executable).with_name("actlab-tui")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "actlab.tui"]


def _stat(pid: int | str) -> list[str] | None:
    """/proc/PID/stat's fields after "pid (name)": state, ppid, pgrp, ...; None when gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def living_in_group(group: int) -> list[int]:
    """The processes of a process group that are not zombies."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(entry.name)
            if fields is not None and int(fields[2]) == group and fields[0] != "Z":
                pids.append(int(entry.name))
    return pids


def workers_of(pid: int) -> list[int]:
    """The live worker processes (spawned by multiprocessing) that are children of `pid`."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            fields = _stat(child)
            if b"spawn_main" in cmdline and fields is not None and fields[0] != "Z":
                out.append(int(child))
    return sorted(out)


@dataclass
class Kill:
    """One sweep and one kill: what was seen."""

    moment: str
    delay_s: float
    victim: int | None = None  # None: the sweep ended (or failed) before the kill
    exit_s: float | None = None  # kill -> the sweep exited; None: a hang (killed after the limit)
    returncode: int | None = None
    failed_jobs: dict[int, str] = field(default_factory=dict)  # job index -> its failure line
    incomplete: list[int] = field(default_factory=list)  # jobs whose points are not complete
    left: list[int] = field(default_factory=list)  # processes of the sweep alive after it
    note: str = ""

    @property
    def failures(self) -> list[str]:
        out = []
        if self.victim is None:
            out.append(self.note or "no worker was killed")
            return out
        if self.exit_s is None:
            out.append(f"the sweep hangs (no exit within {EXIT_LIMIT_S:.0f} s of the kill)")
        if self.left:
            out.append(f"processes left: {self.left}")
        if self.exit_s is None:
            return out
        if len(self.failed_jobs) > 1:
            out.append(f"{len(self.failed_jobs)} jobs failed, not just the killed worker's")
        for index, line in self.failed_jobs.items():
            if not line.startswith("WorkerDied") or f" {self.victim} " not in line:
                out.append(f"job {index} failed otherwise: {line}")
        if sorted(self.incomplete) != sorted(self.failed_jobs):
            out.append(f"points of jobs {self.incomplete} incomplete, failed {sorted(self.failed_jobs)}")
        if (self.returncode != 0) != bool(self.failed_jobs):
            out.append(f"exit code {self.returncode} with {len(self.failed_jobs)} job(s) failed")
        if self.note:
            out.append(self.note)
        return out

    @property
    def ok(self) -> bool:
        return not self.failures

    def line(self) -> str:
        lost = f"job {next(iter(self.failed_jobs))} failed" if self.failed_jobs else "no job lost"
        took = f"exit {self.returncode} in {self.exit_s:.1f} s" if self.exit_s is not None else "HANG"
        verdict = "ok" if self.ok else "FAILED: " + "; ".join(self.failures)
        return (
            f"{self.moment:<12} +{self.delay_s:.2f} s  kill -9 {self.victim}: {lost}, {took}, "
            f"{len(self.left)} left: {verdict}"
        )


def _trigger(moment: str, stderr: list[str], out: Path, workers: list[int]) -> bool:
    if moment == "start-up":
        return bool(workers)
    if moment == "mid-job":
        return any(out.glob("*/seed-*/events.jsonl"))
    return bool(DONE_LINE.search("".join(stderr)))


def kill_one(moment: str, delay_s: float, pick: float, workdir: Path, cache_dir: Path) -> Kill:
    """One sweep; at `moment` + `delay_s`, the worker at `pick` (in [0, 1)) of those alive is
    killed with SIGKILL; then the checks."""
    out = workdir / "sweep"
    cmd = [*sweep_command(), *SWEEP_ARGS, "--cache-dir", str(cache_dir), "--out", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its process group: the sweep and every worker it starts
    )
    stderr: list[str] = []
    assert proc.stderr is not None
    lines = proc.stderr
    reader = threading.Thread(target=lambda: stderr.extend(iter(lines.readline, "")), daemon=True)
    reader.start()  # its lines as they come: the between-jobs moment is one of them
    result = Kill(moment, delay_s)
    start = time.monotonic()
    fire_at: float | None = None
    while proc.poll() is None and time.monotonic() - start < KILL_DEADLINE_S:
        workers = workers_of(proc.pid)
        if fire_at is None and _trigger(moment, stderr, out, workers):
            fire_at = time.monotonic() + delay_s
        if fire_at is not None and time.monotonic() >= fire_at and workers:
            result.victim = workers[int(pick * len(workers))]
            os.kill(result.victim, signal.SIGKILL)
            break
        time.sleep(POLL_S)
    killed = time.monotonic()
    if result.victim is None:
        result.note = "the sweep ended before the moment came" if proc.poll() is not None else "no moment"
    try:
        proc.wait(timeout=EXIT_LIMIT_S)
        result.exit_s = time.monotonic() - killed
        result.returncode = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    reader.join(timeout=5.0)
    deadline = time.monotonic() + GONE_LIMIT_S
    while living_in_group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    result.left = living_in_group(proc.pid)
    if result.left:
        os.killpg(proc.pid, signal.SIGKILL)
    text = "".join(stderr)
    result.failed_jobs = {int(m[1]): m[2] for m in FAILED_LINE.finditer(text)}
    try:
        points = json.loads((out / "sweep-results.json").read_text())["points"]
        result.incomplete = sorted({p["job"] for p in points if not p["complete"]})
    except (OSError, ValueError, KeyError) as exc:
        if result.exit_s is not None:
            result.note = f"no sweep results: {exc}; stderr: {text.strip().splitlines()[-1:]}"
    return result


def soak(repetitions: int = 20, seed: int = 0, echo: bool = False) -> dict[str, object]:
    """`repetitions` sweeps, the moments in turn, each with one worker killed; the counts."""
    rng = random.Random(seed)
    root = Path(tempfile.mkdtemp(prefix="actlab-soak-workers-"))
    cache_dir = root / "cache"
    outcomes: list[Kill] = []
    try:
        for rep in range(repetitions):
            moment = MOMENTS[rep % len(MOMENTS)]
            low, high = DELAYS_S[moment]
            delay, pick = round(rng.uniform(low, high), 3), rng.random()
            workdir = root / f"{rep:03d}"
            workdir.mkdir()
            outcome = kill_one(moment, delay, pick, workdir, cache_dir)
            outcomes.append(outcome)
            if echo:
                print(f"{rep + 1:3d} {outcome.line()}", flush=True)
            shutil.rmtree(workdir, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    exits = sorted(o.exit_s for o in outcomes if o.exit_s is not None and o.victim is not None)
    left = sum(len(o.left) for o in outcomes)
    return {
        "repetitions": repetitions,
        "seed": seed,
        "finished": sum(1 for o in outcomes if o.ok),
        "hangs": sum(1 for o in outcomes if o.exit_s is None),
        "leftovers": left,
        "leftover_processes": left,
        "killed_with_a_job": sum(1 for o in outcomes if o.failed_jobs),
        "killed_idle": sum(1 for o in outcomes if o.victim is not None and not o.failed_jobs),
        "not_killed": sum(1 for o in outcomes if o.victim is None),
        "failures": sum(1 for o in outcomes if not o.ok),
        "moments": {m: sum(1 for o in outcomes if o.moment == m) for m in MOMENTS},
        "median_exit_after_kill_s": round(exits[len(exits) // 2], 1) if exits else None,
        "slowest_exit_after_kill_s": round(exits[-1], 1) if exits else None,
        "ok": all(o.ok for o in outcomes),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak_workers", description=__doc__)
    parser.add_argument("repetitions", nargs="?", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.repetitions < 1:
        parser.error(f"repetitions {args.repetitions}: must be >= 1")
    result = soak(args.repetitions, args.seed, echo=True)
    print(
        f"soak workers: {result['repetitions']} repetitions, {result['finished']} finished, "
        f"{result['hangs']} hangs, {result['leftovers']} leftover processes "
        f"({result['killed_with_a_job']} killed with a job, {result['killed_idle']} idle, "
        f"{result['not_killed']} not killed): {'OK' if result['ok'] else 'FAILED'}"
    )
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
