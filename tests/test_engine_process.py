"""The app's engine process (`RunHost`): runs, control, errors and a child that dies mid-run.

Each test has its own host. Synchronisation is by the messages the child sends (a queue the
host's reader fills), each wait with a generous deadline; nothing sleeps for a guessed time.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from actlab.engine import RunConfig
from actlab.engine.events import Evaluation, Event, RunFinished, RunStarted
from actlab.engine.experiments.engine_messages import RunEnded, RunEvents
from actlab.tui.engine_process import RunHost

DEADLINE_S = 60.0


class Inbox:
    """What the host posts, in order, with waits on it."""

    def __init__(self) -> None:
        self.messages: queue.Queue[Any] = queue.Queue()
        self.events: dict[int, list[Event]] = {}
        self.progress: dict[int, int] = {}

    def __call__(self, message: Any) -> None:
        self.messages.put(message)

    def next(self) -> Any:
        message = self.messages.get(timeout=DEADLINE_S)
        if isinstance(message, RunEvents):
            self.events.setdefault(message.run_id, []).extend(message.events)
            if message.progress is not None:
                self.progress[message.run_id] = message.progress.iteration
        return message

    def until(self, what: str, done: Any) -> Any:
        while True:
            message = self.next()
            if done(message):
                return message
            assert not isinstance(message, RunEnded), f"the run ended before {what}: {message}"

    def ended(self, run_id: int) -> RunEnded:
        while True:
            message = self.next()
            if isinstance(message, RunEnded) and message.run_id == run_id:
                return message

    def evaluated(self, run_id: int) -> None:
        self.until(
            "an evaluation",
            lambda m: (
                isinstance(m, RunEvents)
                and m.run_id == run_id
                and any(isinstance(e, Evaluation) for e in m.events)
            ),
        )


@pytest.fixture
def host() -> Iterator[tuple[RunHost, Inbox]]:
    inbox = Inbox()
    host = RunHost(inbox, threads=1)
    yield host, inbox
    host.close()


def long(config: RunConfig) -> RunConfig:
    return config.replace(epochs=500, max_iterations=None, diagnostics_every=0)


def test_a_run_streams_every_event_in_order_and_is_stored(
    host: tuple[RunHost, Inbox], tiny_config: RunConfig, tmp_path: Path
) -> None:
    h, inbox = host
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    h.start(1, tiny_config, str(run_dir))
    end = inbox.ended(1)
    assert end.error is None and end.summary is not None and end.summary.iterations == 40
    events = inbox.events[1]
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    assert [e.iteration for e in events if isinstance(e, Evaluation)] == [10, 20, 30, 40]
    saved = json.loads((run_dir / "summary.json").read_text())
    assert saved["status"] == "done" and saved["iterations"] == 40


def test_pause_holds_the_iterations_and_resume_goes_on(
    host: tuple[RunHost, Inbox], tiny_config: RunConfig
) -> None:
    h, inbox = host
    h.start(1, long(tiny_config), None)
    inbox.evaluated(1)

    def paused_at() -> int:
        h.pause(1)
        message = inbox.until("the pause", lambda m: isinstance(m, RunEvents) and m.paused)
        assert message.progress is not None
        return message.progress.iteration

    first = paused_at()
    h.resume(1)
    inbox.evaluated(1)  # it goes on after the resume...
    assert [e.iteration for e in inbox.events[1] if isinstance(e, Evaluation)][-1] > first
    second = paused_at()
    assert second > first
    h.stop(1)
    assert inbox.ended(1).error is None
    # ...and nothing advanced while it was paused: it stopped where the pause held it
    finished = [e for e in inbox.events[1] if isinstance(e, RunFinished)]
    assert finished[-1].status == "stopped" and finished[-1].iteration == second


def test_stop_reaches_the_child_at_once(host: tuple[RunHost, Inbox], tiny_config: RunConfig) -> None:
    h, inbox = host
    h.start(1, long(tiny_config), None)
    inbox.evaluated(1)
    h.stop(1)
    end = inbox.ended(1)
    finished = [e for e in inbox.events[1] if isinstance(e, RunFinished)]
    assert end.error is None and finished[-1].status == "stopped"
    assert finished[-1].iteration < 500 * 125


def test_runs_queue_one_after_another_and_a_stopped_queued_run_never_starts(
    host: tuple[RunHost, Inbox], tiny_config: RunConfig
) -> None:
    h, inbox = host
    h.start(1, long(tiny_config), None)
    h.start(2, tiny_config, None)
    h.start(3, tiny_config, None)
    h.stop(2)
    inbox.evaluated(1)
    h.stop(1)
    ends = [inbox.ended(1), inbox.ended(2), inbox.ended(3)]
    assert ends[1].summary is None and 2 not in inbox.events  # never began
    assert ends[2].summary is not None and ends[2].summary.iterations == 40
    # one loop at a time: every event of run 1 came before the first of run 3
    assert isinstance(inbox.events[3][0], RunStarted)


def test_an_error_is_one_line_and_the_child_goes_on(
    host: tuple[RunHost, Inbox], tiny_config: RunConfig, tmp_path: Path
) -> None:
    h, inbox = host
    h.start(1, tiny_config.replace(dataset="idx", data_dir=str(tmp_path / "nowhere")), None)
    end = inbox.ended(1)
    assert end.summary is None and end.error and "nowhere" in end.error and "\n" not in end.error
    h.start(2, tiny_config, None)
    assert inbox.ended(2).error is None


def test_a_child_that_dies_mid_run_is_reported_and_replaced(
    host: tuple[RunHost, Inbox], tiny_config: RunConfig
) -> None:
    h, inbox = host
    h.start(1, long(tiny_config), None)
    inbox.evaluated(1)
    pid = h.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    end = inbox.ended(1)
    assert end.error and "ended unexpectedly" in end.error
    h.start(2, tiny_config, None)  # a fresh child takes over
    assert inbox.ended(2).error is None and h.pid not in (None, pid)


def test_close_stops_the_run_stores_its_end_and_ends_the_child(
    host: tuple[RunHost, Inbox], tiny_config: RunConfig, tmp_path: Path
) -> None:
    h, inbox = host
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    h.start(1, long(tiny_config), str(run_dir))
    inbox.evaluated(1)
    pid = h.pid
    h.close()
    assert h.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # type: ignore[arg-type]
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["type"] == "run_finished"
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "stopped"


def test_the_child_does_not_import_from_the_working_directory(tmp_path: Path) -> None:
    """A stray module in the user's folder (here a `numpy.py` that would fail) is not ours."""
    (tmp_path / "numpy.py").write_text("raise SystemExit('the working directory was imported')\n")
    code = (
        "import queue; from actlab.engine import RunConfig;"
        "from actlab.tui.engine_process import RunHost;"
        "from actlab.engine.experiments.engine_messages import RunEnded;"
        "q = queue.Queue(); h = RunHost(q.put, threads=1);"
        "h.start(1, RunConfig(max_iterations=2, epochs=1, eval_every=1, device='cpu',"
        f" cache_dir={str(tmp_path / 'cache')!r}), None);"
        "m = q.get(timeout=120)\n"
        "while not isinstance(m, RunEnded): m = q.get(timeout=120)\n"
        "h.close(); print('error:', m.error)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out = subprocess.run(
        [sys.executable, "-P", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "error: None"


def test_custom_members_are_imported_as_batch_mode_does(
    host: tuple[RunHost, Inbox], tiny_config: RunConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file spec is read relative to the app's working directory, a module spec through
    the import path, which (as in batch mode) never holds the working directory."""
    h, inbox = host
    (tmp_path / "acts.py").write_text(
        "import torch\n\ndef bent(z):\n    return (torch.sqrt(z * z + 1) - 1) / 2 + z\n"
    )
    (tmp_path / "stray_acts_here.py").write_text("def f(z):\n    return z\n")
    monkeypatch.chdir(tmp_path)
    h.start(1, tiny_config.replace(activations=("relu", "./acts.py:bent", "prelu")), None)
    end = inbox.ended(1)
    assert end.error is None and end.summary is not None
    assert [m.activation for m in end.summary.members] == ["relu", "./acts.py:bent", "prelu"]
    started = inbox.events[1][0]
    assert isinstance(started, RunStarted)
    assert [d["name"] for d in started.custom_activations] == ["./acts.py:bent"]
    h.start(2, tiny_config.replace(activations=("relu", "stray_acts_here:f")), None)
    end = inbox.ended(2)
    assert end.summary is None and end.error is not None
    assert end.error.startswith("activation 'stray_acts_here:f': cannot import 'stray_acts_here'")
