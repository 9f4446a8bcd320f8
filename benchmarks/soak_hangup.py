"""Soak: the app ends with its terminal (issue 16, item 4).

`python -m benchmarks.soak_hangup [REPETITIONS] [--seed N]`

Starts the real `actlab-tui` on a pseudo-terminal that is its controlling terminal (as an SSH
login or a tmux pane gives it) and closes the terminal's master side, the way sshd or tmux
drop it, at three moments: during start-up (after its first output, before or around its
first frame), idle after the first frame, and mid-run. Each time the app and every process
it started (its engine process) must be gone within 5 s, and a run in progress must be
stored as stopped. The moments' delays are drawn from a seeded
generator, so a failing repetition can be run again.

`hang_up` is one launch and one hangup; tests/test_hangup.py uses it too.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import random
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path

MOMENTS = ("start-up", "idle", "mid-run")
EXIT_LIMIT_S = 5.0  # from the hangup to the last of the app's processes gone (issue 16)
WATCH_S = 10.0  # how long a launch is watched after the hangup: past the limit, a hang
READY_DEADLINE_S = 90.0  # for the first frame, the first evaluation: a stuck app fails, not waits
SIZE = (120, 40)  # columns, rows
# In the lab's first frame, written in one piece (benchmarks/startup.py)
FIRST_FRAME = b"Activations (space toggles)"
# Small and long: a run is surely going when the terminal closes, and costs one core
APP_ARGS = ["-d", "sample", "--threads", "1", "--width", "32", "--epochs", "500", "--eval-every", "10"]
START_KEY = b"\x13"  # ctrl+s: Start
# drawn for each launch: from the moment, seconds until the terminal closes
DELAYS_S = {"start-up": (0.0, 2.0), "idle": (0.0, 1.5), "mid-run": (0.0, 1.5)}


def app_command() -> list[str]:
    exe = Path(sys.executable).with_name("actlab-tui")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "actlab.tui"]


@dataclass
class Hangup:
    """One launch: what was seen after its terminal closed."""

    moment: str
    delay_s: float
    exit_s: float | None = None  # hangup -> the app process ended; None: alive after WATCH_S
    gone_s: float | None = None  # hangup -> the last of its processes ended; None: one is left
    returncode: int | None = None
    engines: list[int] = field(default_factory=list)  # engine processes alive at the hangup
    left: list[int] = field(default_factory=list)  # processes alive at WATCH_S (killed then)
    status: str | None = None  # mid-run: the stored run's status
    note: str = ""

    @property
    def failures(self) -> list[str]:
        out: list[str] = []
        if self.exit_s is None:
            out.append("the app hangs")
        elif self.exit_s > EXIT_LIMIT_S:
            out.append(f"the app took {self.exit_s:.2f} s")
        if self.left:
            out.append(f"processes left: {self.left}")
        elif self.gone_s is not None and self.gone_s > EXIT_LIMIT_S:
            out.append(f"its processes took {self.gone_s:.2f} s")
        if self.moment == "mid-run" and self.status != "stopped":
            out.append(f"the run is stored as {self.status!r}, not 'stopped'")
        if self.note:
            out.append(self.note)
        return out

    @property
    def ok(self) -> bool:
        return not self.failures

    def line(self) -> str:
        exit_s = "hang" if self.exit_s is None else f"{self.exit_s:5.2f} s"
        gone_s = "left" if self.gone_s is None else f"{self.gone_s:5.2f} s"
        text = (
            f"{self.moment:<8} delay {self.delay_s:4.2f} s  app ended {exit_s:>7} (code {self.returncode})"
            f"  all gone {gone_s:>7}  engines {len(self.engines)}"
        )
        if self.moment == "mid-run":
            text += f"  stored {self.status}"
        return text + ("  OK" if self.ok else "  FAIL: " + "; ".join(self.failures))


def _take_terminal() -> None:
    """In the child, after setsid: make its stdin (the pty) its controlling terminal, so
    that closing the master hangs up its session like a dropped SSH login."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def processes_in(workdir: Path) -> list[int]:
    """Live processes (not zombies) whose working directory is `workdir`: the app and
    whatever it started, found however they were reparented."""
    found: list[int] = []
    target = str(workdir)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "cwd") != target:
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue  # ended meanwhile, or a zombie (its cwd is gone)
        if state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def engine_pids(app_pid: int) -> list[int]:
    """The engine processes `app_pid` started (its children running the engine module)."""
    out: list[int] = []
    try:
        children = Path(f"/proc/{app_pid}/task/{app_pid}/children").read_text().split()
    except OSError:
        return out
    for pid in children:
        try:
            if b"actlab.engine.experiments.engine_child" in Path(f"/proc/{pid}/cmdline").read_bytes():
                out.append(int(pid))
        except OSError:
            continue
    return out


def stored_status(workdir: Path) -> str | None:
    """The status the run started in `workdir` was stored with: summary.json's, else the last
    event's; "unfinished" when neither says; None when no run was stored."""
    runs = sorted((workdir / "actlab-runs").glob("*/events.jsonl"))
    if not runs:
        return None
    summary = runs[-1].with_name("summary.json")
    try:
        return str(json.loads(summary.read_text())["status"])
    except (OSError, ValueError, KeyError):
        pass
    lines = runs[-1].read_text().splitlines()
    try:
        last = json.loads(lines[-1]) if lines else {}
    except ValueError:
        return "unfinished"
    return str(last["status"]) if last.get("type") == "run_finished" else "unfinished"


class Terminal:
    """A pseudo-terminal with the app on it; the master is kept drained, as a terminal does."""

    def __init__(self, workdir: Path, cache_dir: Path, env: dict[str, str] | None = None) -> None:
        self.master, slave = pty.openpty()
        cols, rows = SIZE
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        full_env = {
            **os.environ,
            "TERM": "xterm-256color",
            "OMP_NUM_THREADS": "1",
            "XDG_CACHE_HOME": str(cache_dir),  # the engine process's log goes there
            **(env or {}),
        }
        self.tail = b""
        self.first_frame = False
        try:
            self.proc = subprocess.Popen(
                [*app_command(), *APP_ARGS, "--cache-dir", str(cache_dir)],
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=workdir,
                env=full_env,
                start_new_session=True,
                preexec_fn=_take_terminal,
            )
        finally:
            os.close(slave)
        self.open = True

    def drain(self, until: float) -> None:
        """Read what the app writes until `until` (time.monotonic())."""
        while self.open:
            left = until - time.monotonic()
            if left <= 0 or not select.select([self.master], [], [], left)[0]:
                return
            try:
                chunk = os.read(self.master, 1 << 16)
            except OSError:  # the app's side is closed: it ended
                return
            if not chunk:
                return
            # the marker may straddle two reads; the tail keeps the last screenful or so
            self.first_frame = self.first_frame or FIRST_FRAME in self.tail[-len(FIRST_FRAME) :] + chunk
            self.tail = (self.tail + chunk)[-(1 << 16) :]

    def wait_for(self, condition: object, what: str) -> None:
        """Drain until `condition()` holds; the app ending or READY_DEADLINE_S passing fails."""
        assert callable(condition)
        deadline = time.monotonic() + READY_DEADLINE_S
        while not condition():
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the app ended ({self.proc.returncode}) before {what}: {self.tail[-300:]!r}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"no {what} within {READY_DEADLINE_S:.0f} s")
            self.drain(time.monotonic() + 0.05)

    def hang_up(self) -> None:
        os.close(self.master)
        self.open = False


def hang_up(moment: str, delay_s: float, workdir: Path, cache_dir: Path) -> Hangup:
    """Start the app in `workdir` on its own terminal, close the terminal `delay_s` after
    `moment`, and watch what ends and how fast. Whatever is still alive after WATCH_S is
    killed (and reported).

    Moments: "start-up" is the app's first output (Textual has taken the terminal, no frame
    drawn yet: seconds on a busy machine); "idle" the first frame; "mid-run" the first
    evaluation, on disk, of a run started with ctrl+s."""
    if moment not in MOMENTS:
        raise ValueError(f"moment {moment!r} is not one of {', '.join(MOMENTS)}")
    result = Hangup(moment, delay_s)
    term = Terminal(workdir, cache_dir)
    try:
        if moment == "start-up":
            term.wait_for(lambda: bool(term.tail), "first output")
        else:
            term.wait_for(lambda: term.first_frame, "first frame")
        if moment == "mid-run":
            os.write(term.master, START_KEY)
            runs = workdir / "actlab-runs"

            def evaluated() -> bool:
                files = list(runs.glob("*/events.jsonl")) if runs.exists() else []
                return bool(files) and '"evaluation"' in files[0].read_text()

            term.wait_for(evaluated, "first evaluation on disk")
        term.drain(time.monotonic() + delay_s)
        result.engines = engine_pids(term.proc.pid)
        if term.proc.poll() is not None:
            result.note = f"the app ended ({term.proc.returncode}) before its terminal closed"
        term.hang_up()
        closed = time.monotonic()
        while time.monotonic() - closed < WATCH_S:
            if result.exit_s is None and term.proc.poll() is not None:
                result.exit_s = time.monotonic() - closed
                result.returncode = term.proc.returncode
            if result.exit_s is not None and not processes_in(workdir):
                result.gone_s = time.monotonic() - closed
                break
            time.sleep(0.01)  # polling another process's state, with the deadline above
        result.left = processes_in(workdir)
    finally:
        if term.open:
            term.hang_up()
        for pid in processes_in(workdir):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        term.proc.wait()
    if moment == "mid-run":
        result.status = stored_status(workdir)
    return result


def soak(repetitions: int = 50, seed: int = 0, echo: bool = False) -> dict[str, object]:
    """Repeat the three moments `repetitions` times each, with seeded random delays; count
    what went wrong. `echo` prints a line per launch."""
    rng = random.Random(seed)
    root = Path(tempfile.mkdtemp(prefix="actlab-soak-hangup-"))
    cache_dir = root / "cache"
    outcomes: list[Hangup] = []
    try:
        for rep in range(repetitions):
            for moment in MOMENTS:
                low, high = DELAYS_S[moment]
                workdir = root / f"{rep:03d}-{moment}"
                workdir.mkdir()
                try:
                    outcome = hang_up(moment, round(rng.uniform(low, high), 3), workdir, cache_dir)
                except RuntimeError as exc:  # it never got to the moment: a failure too
                    outcome = Hangup(moment, 0.0, note=str(exc))
                outcomes.append(outcome)
                if echo:
                    print(f"{rep + 1:3d} {outcome.line()}", flush=True)
                shutil.rmtree(workdir, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    exits = sorted(o.exit_s for o in outcomes if o.exit_s is not None)
    gone = sorted(o.gone_s for o in outcomes if o.gone_s is not None)
    left = sum(len(o.left) for o in outcomes)
    return {
        "repetitions": repetitions,  # of each moment
        "launches": len(outcomes),
        "seed": seed,
        "exited_within_limit": sum(1 for o in outcomes if o.exit_s is not None and o.exit_s <= EXIT_LIMIT_S),
        "hangs": sum(1 for o in outcomes if o.exit_s is None),
        "leftovers": left,
        "leftover_processes": left,
        "mid_run_not_stopped": sum(1 for o in outcomes if o.moment == "mid-run" and o.status != "stopped"),
        "failures": sum(1 for o in outcomes if not o.ok),
        "median_exit_s": round(exits[len(exits) // 2], 2) if exits else None,
        "slowest_exit_s": round(exits[-1], 2) if exits else None,
        "slowest_all_gone_s": round(gone[-1], 2) if gone else None,
        "exit_codes": sorted({o.returncode for o in outcomes if o.returncode is not None}),
        "limit_s": EXIT_LIMIT_S,
        "ok": all(o.ok for o in outcomes),
    }


SUMMARY = "Close the app's terminal at start-up, idle and mid-run; count what survives."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak_hangup", description=SUMMARY)
    parser.add_argument("repetitions", type=int, nargs="?", default=50, help="of each moment (default 50)")
    parser.add_argument("--seed", type=int, default=0, help="of the delays (default 0)")
    args = parser.parse_args(argv)
    if args.repetitions < 1:
        parser.error(f"repetitions {args.repetitions}: give 1 or more")
    summary = soak(args.repetitions, args.seed, echo=True)
    print(json.dumps(summary, indent=2))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
