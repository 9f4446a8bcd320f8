"""The app's engine child process: runs, control, errors and a child that dies mid-run.

Synchronisation is by events the child sends (a threading.Event set by the listener), with
generous deadlines; nothing sleeps for a guessed time.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest
import torch
from actlab.engine import Control, DataError, RunConfig
from actlab.engine.events import Evaluation, Event, RunFinished, RunStarted
from actlab.tui.engine_process import HOST, EngineProcessError

DEADLINE_S = 60.0


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.evaluated = threading.Event()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, Evaluation):
            self.evaluated.set()

    def finished(self) -> RunFinished:
        ends = [e for e in self.events if isinstance(e, RunFinished)]
        assert len(ends) == 1
        return ends[0]


def run_in_background(config: RunConfig, recorder: Recorder, control: Control) -> dict[str, object]:
    out: dict[str, object] = {}

    def target() -> None:
        try:
            out["summary"] = HOST.run(config, recorder, control, threads=torch.get_num_threads())
        except BaseException as exc:  # the test looks at it
            out["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    out["thread"] = thread
    return out


def test_a_run_in_the_child_streams_every_event_in_order(tiny_config: RunConfig) -> None:
    recorder = Recorder()
    summary = HOST.run(tiny_config, recorder, Control(), threads=1)
    assert isinstance(recorder.events[0], RunStarted)
    end = recorder.finished()
    assert end.status == "done" and end.iteration == 40
    evals = [e.iteration for e in recorder.events if isinstance(e, Evaluation)]
    assert evals == [10, 20, 30, 40]
    assert summary is not None and summary["iterations"] == 40


def test_stop_reaches_the_child_and_the_run_ends_stopped(tiny_config: RunConfig) -> None:
    recorder, control = Recorder(), Control()
    out = run_in_background(tiny_config.replace(epochs=500, max_iterations=None), recorder, control)
    assert recorder.evaluated.wait(DEADLINE_S)
    control.stop()
    out["thread"].join(DEADLINE_S)  # type: ignore[attr-defined]
    assert "error" not in out
    end = recorder.finished()
    assert end.status == "stopped" and 10 <= end.iteration < 500 * 125


def test_an_error_in_the_child_is_raised_here_as_itself(tiny_config: RunConfig, tmp_path: Path) -> None:
    bad = tiny_config.replace(dataset="idx", data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="nowhere"):
        HOST.run(bad, Recorder(), Control(), threads=1)
    recorder = Recorder()  # and the child goes on serving
    HOST.run(tiny_config, recorder, Control(), threads=1)
    assert recorder.finished().status == "done"


def test_a_child_that_dies_mid_run_is_reported_and_replaced(tiny_config: RunConfig) -> None:
    recorder, control = Recorder(), Control()
    out = run_in_background(tiny_config.replace(epochs=500, max_iterations=None), recorder, control)
    assert recorder.evaluated.wait(DEADLINE_S)
    pid = HOST.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    out["thread"].join(DEADLINE_S)  # type: ignore[attr-defined]
    error = out.get("error")
    assert isinstance(error, EngineProcessError) and "ended unexpectedly" in str(error)
    recorder = Recorder()
    HOST.run(tiny_config, recorder, Control(), threads=1)  # a fresh child takes over
    assert recorder.finished().status == "done" and HOST.pid not in (None, pid)
