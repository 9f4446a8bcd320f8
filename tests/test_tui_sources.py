"""The lab's other sources: saved runs, runs another process still writes, broken files;
and the app's process ending on a signal or a failure.

Waits are on conditions (a phase, a file's content), each with a generous deadline.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from actlab.engine.events import RunFinished
from actlab.engine.experiments.results import ResultsWriter, read_events
from actlab.tui.app import create_app
from actlab.tui.screens.lab import LabScreen
from actlab.tui.state import Phase
from actlab.tui.widgets.table import ThresholdTable
from pilots import DEADLINE_S, engine_children, lab, until

FIXTURE = Path(__file__).parent / "fixtures" / "tui_finished"


def statuses(screen: LabScreen) -> list[str]:
    table = screen.query_one(ThresholdTable)
    return [str(table.get_row_at(r)[1]) for r in range(table.row_count)]


def test_a_run_still_being_written_is_followed_to_its_end(tmp_path: Path) -> None:
    stream = list(read_events(FIXTURE))
    assert isinstance(stream[-1], RunFinished)
    run_dir = tmp_path / "job"
    writer = ResultsWriter(run_dir)  # another process's batch job, as far as the app can tell
    half = len(stream) // 2
    for event in stream[:half]:
        writer(event)

    async def scenario() -> None:
        app = create_app(open_dir=str(run_dir), save_runs=False)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await lab(pilot)
            await until(pilot, lambda: screen.events_shown == half, "what was written so far")
            assert screen.phase == Phase.REPLAY  # the writer is alive: still following
            await until(pilot, lambda: screen.status.parts()[0] == "following", "the status to say so")
            for event in stream[half:]:
                writer(event)  # closes the file after run_finished
            await until(pilot, lambda: screen.phase == Phase.SAVED, "the run's end")
            assert screen.events_shown == len(stream) and not screen.status.interrupted
            assert statuses(screen) == ["done"] * 3

    asyncio.run(scenario())


def test_a_killed_run_reads_back_as_interrupted(tmp_path: Path) -> None:
    run_dir = tmp_path / "killed"
    run_dir.mkdir()
    lines = (FIXTURE / "events.jsonl").read_text().splitlines()
    # no run_finished, and no writer holds the file: the writer was killed
    (run_dir / "events.jsonl").write_text("\n".join(lines[:-3]) + "\n")

    async def scenario() -> None:
        app = create_app(open_dir=str(run_dir), save_runs=False)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await lab(pilot)
            await until(pilot, lambda: screen.phase == Phase.SAVED, "the end of the file")
            assert screen.status.interrupted and "interrupted" in screen.status.parts()[0]
            assert statuses(screen) == ["interrupted"] * 3
        assert app.exit_code == 0

    asyncio.run(scenario())


def test_a_broken_saved_run_is_one_line_and_a_failing_exit_code(tmp_path: Path) -> None:
    run_dir = tmp_path / "broken"
    run_dir.mkdir()
    lines = (FIXTURE / "events.jsonl").read_text().splitlines()
    lines[3] = '{"type": "evaluation", "iteration": "many"}'
    (run_dir / "events.jsonl").write_text("\n".join(lines) + "\n")

    async def scenario() -> None:
        app = create_app(open_dir=str(run_dir), save_runs=False)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await lab(pilot)
            await until(pilot, lambda: screen.phase == Phase.FAILED, "the failure")
            error = screen.status.error or ""
            assert "events.jsonl line 4" in error and "\n" not in error
        assert app.exit_code == 2

    asyncio.run(scenario())


# --- the real command in a terminal ---------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
def test_a_signal_stops_the_run_like_quitting(sig: int, tmp_path: Path, cache_dir: Path) -> None:
    """TERM from a job manager, HUP from a dropped SSH session: the run is stored as stopped,
    the engine process ends, the app exits with 128 + the signal."""
    main, child_end = pty.openpty()
    os.set_blocking(main, False)
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    command = [
        sys.executable, "-m", "actlab.tui", "--epochs", "500", "--eval-every", "10",
        "--width", "32", "--threads", "1", "--cache-dir", str(cache_dir),
    ]  # fmt: skip
    proc = subprocess.Popen(
        command, stdin=child_end, stdout=child_end, stderr=child_end, cwd=tmp_path, env=env,
        start_new_session=True,
    )  # fmt: skip
    os.close(child_end)
    screen = bytearray()

    def drain(seconds: float) -> None:
        if select.select([main], [], [], seconds)[0]:
            try:
                screen.extend(os.read(main, 1 << 16))
            except OSError:
                pass

    def wait_for(condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while not condition():
            assert proc.poll() is None, f"the app ended early: {screen[-2000:]!r}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            drain(0.05)

    try:
        wait_for(lambda: b"Start" in screen, "the footer")
        os.write(main, b"\x13")  # ctrl+s
        runs = tmp_path / "actlab-runs"

        def evaluated() -> bool:
            files = list(runs.glob("*/events.jsonl")) if runs.exists() else []
            return bool(files) and '"evaluation"' in files[0].read_text()

        wait_for(evaluated, "the first evaluation on disk")
        engines = engine_children(proc.pid)
        assert len(engines) == 1
        proc.send_signal(sig)
        deadline = time.monotonic() + DEADLINE_S
        while proc.poll() is None and time.monotonic() < deadline:
            drain(0.05)
        assert proc.returncode == 128 + sig
        (run_dir,) = runs.iterdir()
        last = json.loads((run_dir / "events.jsonl").read_text().splitlines()[-1])
        assert last["type"] == "run_finished" and last["status"] == "stopped"
        assert json.loads((run_dir / "summary.json").read_text())["status"] == "stopped"
        assert not _alive(engines[0])
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(main)
