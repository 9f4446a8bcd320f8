"""The app dies with its terminal (issue 16): closing the terminal (an SSH session dropping, a
tmux session killed) at start-up, idle or mid-run ends the app and its engine process within
5 s and stores a run in progress as stopped; so do a hangup or TERM while the event loop is
stuck; and the engine process stores its run and leaves when its app is killed outright.

Each waits on a condition (output on the terminal, a line from a process, a process gone)
with a deadline; none sleeps to synchronise.
"""

from __future__ import annotations

import json
import os
import pty
import queue
import select
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from actlab.engine import RunConfig, run
from actlab.engine.control import Control
from actlab.engine.data import Dataset
from actlab.engine.events import EpochFinished, Evaluation, Event, MemberCosts, RunFinished
from actlab.engine.experiments.engine_messages import RunEnded, RunEvents
from actlab.tui.engine_process import RunHost
from actlab.tui.hangup import LIMIT_S

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `pytest`, not `python -m pytest`: benchmarks/ is at the root
    sys.path.insert(0, str(ROOT))

from benchmarks.soak_hangup import MOMENTS, hang_up, processes_in  # noqa: E402

DEADLINE_S = 60.0  # for a process to get somewhere: a hang fails the test
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "OMP_NUM_THREADS": "1"}


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_until(condition: Callable[[], bool], what: str, limit_s: float = DEADLINE_S) -> float:
    """Poll another process's state until `condition` holds; the seconds it took."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < limit_s, f"timed out after {limit_s:g} s waiting for {what}"
        time.sleep(0.01)  # polling another process, with the deadline above
    return time.monotonic() - start


def read_line(proc: subprocess.Popen[str], what: str) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], DEADLINE_S)
    assert ready, f"no {what} within {DEADLINE_S:g} s"
    line = proc.stdout.readline()
    assert line, f"the process ended ({proc.wait()}) before {what}"
    return line.strip()


def long_config(cache_dir: Path) -> RunConfig:
    """Small and long: still going whenever the test acts."""
    return RunConfig(
        activations=("sigmoid", "relu"),
        width=32,
        batch_size=32,
        epochs=500,
        eval_every=10,
        diagnostics_every=0,
        dataset="sample",
        cache_dir=str(cache_dir),
        device="cpu",
    )


def stored_status(run_dir: Path) -> str:
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    last = json.loads(lines[-1])
    assert last["type"] == "run_finished", f"the run's last event is {last['type']}"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == last["status"]
    return str(last["status"])


# --- the real app, its terminal closed ------------------------------------------------------


@pytest.mark.parametrize("moment", MOMENTS)
def test_closing_the_terminal_ends_the_app_and_its_engine_process(
    moment: str, tmp_path: Path, cache_dir: Path
) -> None:
    """The pty is the app's controlling terminal and its master is closed, as sshd or tmux do:
    the app and every process it started are gone within 5 s, a run is stored as stopped, and
    the exit code says "hangup" (128 + SIGHUP)."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    outcome = hang_up(moment, 0.0, workdir, cache_dir)
    assert outcome.ok, outcome.line()
    assert outcome.returncode == 128 + signal.SIGHUP, outcome.line()
    if moment == "mid-run":
        assert len(outcome.engines) == 1, outcome.line()  # it did train in an engine process
        assert outcome.status == "stopped"
    assert not processes_in(workdir)


# --- a stuck event loop -----------------------------------------------------------------------

# The guard as the app arms it, with a main thread then stuck the way Textual's is on a dead
# terminal: on a full queue whose writer thread is gone. The callbacks log what they are asked.
STUCK = textwrap.dedent(
    """
    import os, queue, sys, time
    from actlab.tui.hangup import TerminalGuard

    log = open(sys.argv[1], "a", buffering=1)

    def asked(code):
        log.write(f"asked to exit with {code}\\n")
        return True  # it was asked; the loop will never get to it

    guard = TerminalGuard(
        asked, lambda: log.write("engines told to stop\\n"),
        lambda deadline: log.write(f"engines ended, by a deadline to come: {deadline > time.monotonic()}\\n"),
    )
    guard.arm()
    writes = queue.Queue(1)
    writes.put("a frame")
    os.write(1, b"stuck\\n")  # one write, done when the test reads it: nothing left to flush
    writes.put("the next frame")
    """
)


@pytest.mark.parametrize("how", ["hangup", "TERM"])
def test_a_stuck_event_loop_does_not_keep_the_app_alive(how: str, tmp_path: Path) -> None:
    """Neither a closed terminal (here not the controlling one: no SIGHUP comes, the guard sees
    the hangup on the terminal itself) nor TERM needs the loop: the app is asked to exit, and
    when it cannot, the engines are ended and the process leaves with 128 + the signal."""
    master, slave = pty.openpty()
    log = tmp_path / "log"
    proc = subprocess.Popen(
        [sys.executable, "-c", STUCK, str(log)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=ENV,
        start_new_session=True,
    )
    os.close(slave)
    try:
        seen = b""
        deadline = time.monotonic() + DEADLINE_S
        while b"stuck" not in seen:
            assert proc.poll() is None, f"the script ended ({proc.returncode}): {seen!r}"
            assert time.monotonic() < deadline, f"the script did not get stuck: {seen!r}"
            if select.select([master], [], [], 0.1)[0]:
                seen += os.read(master, 4096)
        if how == "hangup":
            os.close(master)
            master = -1
        else:
            proc.send_signal(signal.SIGTERM)
        took = wait_until(lambda: proc.poll() is not None, "the stuck process to end")
        code = 128 + (signal.SIGHUP if how == "hangup" else signal.SIGTERM)
        assert proc.returncode == code
        assert took <= LIMIT_S
        assert log.read_text().splitlines() == [
            "engines told to stop",
            f"asked to exit with {code}",
            "engines ended, by a deadline to come: True",
        ]
        if how == "TERM":  # the terminal is still there: it gets its normal screen back
            after = b""
            while select.select([master], [], [], 0)[0]:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # nobody has the terminal open any more: all was read
                    break
                if not chunk:
                    break
                after += chunk
            assert b"\x1b[?1049l" in after and b"\x1b[?25h" in after
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if master >= 0:
            os.close(master)


# --- the engine process without its app ---------------------------------------------------------

# An app reduced to its engine process: it starts a long run, says the child's pid once the
# run is evaluated, then waits to be killed. With "keep", a forked process of its own holds
# its end of the socket open, so that only the kernel (PR_SET_PDEATHSIG) can tell the child.
APP = textwrap.dedent(
    """
    import os, queue, signal, sys
    from actlab.engine import RunConfig
    from actlab.engine.events import Evaluation
    from actlab.engine.experiments.engine_messages import RunEvents
    from actlab.tui.engine_process import RunHost

    config = RunConfig.from_dict(__import__("json").loads(sys.argv[1]))
    inbox = queue.Queue()
    host = RunHost(inbox.put, threads=1)
    host.start(1, config, sys.argv[2])
    while True:
        m = inbox.get(timeout=120)
        if isinstance(m, RunEvents) and any(isinstance(e, Evaluation) for e in m.events):
            break
    keeper = 0
    if sys.argv[3] == "keep":
        keeper = os.fork()
        if keeper == 0:
            signal.pause()  # holds the socket; ended by the test
            os._exit(0)
    print(host.pid, keeper, flush=True)
    signal.pause()
    """
)


@pytest.mark.parametrize("socket", ["closed", "kept"], ids=["socket-closed", "socket-kept-open"])
def test_the_engine_process_stores_its_run_and_leaves_when_its_app_is_killed(
    socket: str, tmp_path: Path, cache_dir: Path
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = json.dumps(long_config(cache_dir).to_dict())
    argv = [sys.executable, "-c", APP, config, str(run_dir), "keep" if socket == "kept" else "-"]
    app = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=ENV, start_new_session=True)
    engine = keeper = 0
    try:
        engine, keeper = (int(p) for p in read_line(app, "the engine's pid").split())
        app.kill()  # no goodbye: -9
        app.wait()
        took = wait_until(lambda: not alive(engine), "the engine process to end")
        assert took <= LIMIT_S
        assert stored_status(run_dir) == "stopped"
    finally:
        if app.poll() is None:
            app.kill()
        app.wait()
        for pid in (keeper, engine):
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


# --- TERM to the engine process -------------------------------------------------------------------


@pytest.fixture
def inbox_host() -> Iterator[tuple[RunHost, queue.Queue[object]]]:
    inbox: queue.Queue[object] = queue.Queue()
    host = RunHost(inbox.put, threads=1)
    yield host, inbox
    host.close()


def test_terminating_the_engine_process_stores_its_run_as_stopped(
    inbox_host: tuple[RunHost, queue.Queue[object]], tmp_path: Path, cache_dir: Path
) -> None:
    """TERM (from the user, or the kernel when the app dies) stops the run like Stop: it is
    stored as stopped, the app is told, and the process leaves."""
    host, inbox = inbox_host
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    host.start(1, long_config(cache_dir), str(run_dir))
    while True:
        m = inbox.get(timeout=DEADLINE_S)
        if isinstance(m, RunEvents) and any(isinstance(e, Evaluation) for e in m.events):
            break
    pid = host.pid
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    while not isinstance(m, RunEnded):
        m = inbox.get(timeout=DEADLINE_S)
    assert m.error is None and m.summary is not None and m.summary.status == "stopped"
    assert stored_status(run_dir) == "stopped"
    wait_until(lambda: not alive(pid), "the engine process to end", LIMIT_S)


# --- a stop is not held up by the cost measurement ----------------------------------------------


def test_a_stop_during_the_cost_measurement_ends_it_after_one_round(sample: Dataset, cache_dir: Path) -> None:
    """The members' costs are measured once, after the first epoch, for seconds on a slow
    machine: a stop then (the user's, or the app gone) waits for one round, not all five, so
    that the run is stored as stopped before an orphaned engine process must leave."""
    control = Control()
    seen: list[Event] = []

    def listener(event: Event) -> None:
        seen.append(event)
        if isinstance(event, EpochFinished):
            control.stop()  # the measurement comes next

    run(long_config(cache_dir), listener, control, data=sample)
    costs = [e for e in seen if isinstance(e, MemberCosts)]
    assert len(costs) == 1 and costs[0].rounds == 1
    last = seen[-1]
    assert isinstance(last, RunFinished) and last.status == "stopped"
