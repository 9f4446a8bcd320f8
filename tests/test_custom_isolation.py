"""The user's activations cannot hang, leak or corrupt (issue 16, item 5).

Their checks run in a helper process bounded in time (batch mode, the app's check helper and
its engine process alike); what the user's code prints never reaches the answers or batch
mode's stdout; a function that changes PyTorch's global settings is refused, and its random
draws change nothing; a check that fails leaves no run folder behind.

Synchronisation is by the processes' own state (answers, exit, /proc) with generous
deadlines; no test measures how long something took.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from actlab.engine import RunConfig
from actlab.engine.activations import SpecError
from actlab.engine.config import ConfigError
from actlab.engine.custom import load
from actlab.engine.custom_process import LIMIT_ENV, Stopped, _answers, _kill, describe
from actlab.engine.data import Dataset
from actlab.engine.events import Evaluation, Event
from actlab.engine.experiments.engine_messages import RunEnded
from actlab.engine.train import run
from actlab.tui.engine_process import RunHost
from pilots import lab, until
from test_engine_process import Inbox

DEADLINE_S = 60.0

USER_CODE = """
import os
import torch

def hang(z):
    while True:
        pass

def loud(z):
    print("{not json", end="")
    os.write(1, b"{written to descriptor 1}\\n")
    return torch.tanh(z)

def softmax(z):
    return torch.softmax(z, dim=-1)
"""

TANH = "\ndef f(z):\n    return torch.tanh(z)\n"
MEDDLING = {
    "dtype_on_import.py": "torch.set_default_dtype(torch.float64)\n" + TANH,
    "grad_on_import.py": "torch.set_grad_enabled(False)\n" + TANH,
    "dtype_when_called.py": "def f(z):\n    torch.set_default_dtype(torch.float64)\n    return z.tanh()\n",
    "threads_when_called.py": "def f(z):\n    torch.set_num_threads(7)\n    return z.tanh()\n",
}
RANDOM_ON_IMPORT = "_noise = torch.rand(1000)\ntorch.manual_seed(4321)\n" + TANH


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory holds the user's modules (file specs are relative to it)."""
    (tmp_path / "acts.py").write_text(USER_CODE)
    for name, code in MEDDLING.items():
        (tmp_path / name).write_text("import torch\n" + code)
    (tmp_path / "draws.py").write_text("import torch\n" + RANDOM_ON_IMPORT)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(LIMIT_ENV, "2")
    return tmp_path


def batch(*args: str, cache_dir: Path) -> subprocess.CompletedProcess[str]:
    """`actlab-tui --batch` on a few iterations of the sample, as a separate process (the
    descriptors it has are a terminal's or a pipe's, as in a script)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "XDG_CACHE_HOME": str(cache_dir)}
    small = ["--width", "16", "--batch-size", "64", "--epochs", "1", "--max-iterations", "20"]
    return subprocess.run(
        [sys.executable, "-m", "actlab.tui", "--batch", "-q", "-d", "sample", *small, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=150,  # far above the check's limit: a check that is not bounded fails the test here
        stdin=subprocess.DEVNULL,
    )


def helpers(parent: int) -> list[int]:
    """The check helpers `parent` started, found in /proc (Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue  # it ended meanwhile
        if ppid == parent and b"actlab.engine.custom" in cmdline:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_for(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)  # polling another process's state, not guessing a duration


# --- batch mode ---------------------------------------------------------------------------------


@pytest.mark.parametrize("repeat", [[], ["--seeds", "2"]], ids=["run", "seeds"])
def test_a_check_that_never_ends_is_stopped_in_batch(
    user_dir: Path, cache_dir: Path, repeat: list[str]
) -> None:
    out = user_dir / "run"
    r = batch("--out", str(out), "-a", "relu,./acts.py:hang", *repeat, cache_dir=cache_dir)
    assert r.returncode == 2, r.stderr
    assert r.stderr == (
        "actlab-tui: error: activation './acts.py:hang': its check did not finish within 2 s (a "
        f"function that never returns?) and was stopped; {LIMIT_ENV} sets the limit\n"
    )
    assert not out.exists()


def test_json_stdout_stays_json_when_a_member_prints(user_dir: Path, cache_dir: Path) -> None:
    """The function prints (Python and descriptor 1) when checked and at every training step."""
    out = user_dir / "run"
    r = batch("--out", str(out), "-a", "relu,./acts.py:loud", "--format", "json", cache_dir=cache_dir)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert [m["activation"] for m in summary["members"]] == ["relu", "./acts.py:loud"]
    assert "{written to descriptor 1}" in r.stderr and "{not json" in r.stderr  # said, elsewhere


@pytest.mark.parametrize(
    ("module", "reason"),
    [
        ("dtype_on_import", "changes torch's default dtype from float32 to float64 on import"),
        ("grad_on_import", "changes torch's grad mode from True to False on import"),
        ("dtype_when_called", "changes torch's default dtype from float32 to float64 when called"),
        ("threads_when_called", "changes torch's number of threads from 1 to 7 when called"),
    ],
)
def test_a_function_changing_torch_settings_is_refused_in_batch(
    user_dir: Path, cache_dir: Path, module: str, reason: str
) -> None:
    out = user_dir / "run"
    r = batch("--out", str(out), "-a", f"relu,./{module}.py:f", cache_dir=cache_dir)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith(f"actlab-tui: error: activation './{module}.py:f': {reason}; not allowed")
    assert not out.exists()


def test_refused_settings_are_put_back(user_dir: Path) -> None:
    """In this process too (a library caller, the app's engine process): refused, restored."""
    with pytest.raises(ConfigError, match="default dtype from float32 to float64 on import"):
        run(RunConfig(activations=("relu", "./dtype_on_import.py:f")))
    assert torch.get_default_dtype() == torch.float32
    with pytest.raises(ConfigError, match="on import"):  # and again: not let through the second time
        run(RunConfig(activations=("relu", "./dtype_on_import.py:f")))
    assert torch.get_default_dtype() == torch.float32


def test_random_draws_on_import_leave_torch_random_state_alone(user_dir: Path) -> None:
    torch.manual_seed(7)
    before = torch.get_rng_state()
    load("./draws.py:f")
    assert torch.equal(torch.get_rng_state(), before)


def test_random_draws_on_import_change_no_members_results(
    user_dir: Path, sample: Dataset, tiny_config: RunConfig
) -> None:
    """relu's whole record (every evaluation's accuracy and losses) is the same beside a
    member whose module draws random numbers and reseeds when imported."""

    def relu_record(activations: tuple[str, ...]) -> list[tuple[float | None, ...]]:
        events: list[Event] = []
        run(tiny_config.replace(activations=activations), events.append, data=sample)
        evals = [e for e in events if isinstance(e, Evaluation)]
        return [(e.iteration, e.accuracy[0], e.test_loss[0], e.train_loss[0]) for e in evals]

    alone = relu_record(("relu", "tanh"))
    beside = relu_record(("relu", "./draws.py:f"))
    assert alone and beside == alone


# --- the app's check helper ---------------------------------------------------------------------


def test_the_apps_check_gets_its_answer_when_the_function_prints(user_dir: Path) -> None:
    (d,) = describe(["./acts.py:loud"])
    assert d["name"] == "./acts.py:loud" and d["output_range"] == "(-1, 1)"


@pytest.mark.parametrize(
    "answer",
    [
        {"spec": "m:f", "description": {"name": "m:f", "z": [0.0]}},  # no f, df, properties
        {"spec": "m:f", "error": 3},
        {"checking": ["m:f"]},
    ],
)
def test_an_answer_outside_the_helpers_protocol_is_refused_in_one_line(answer: dict[str, object]) -> None:
    """The helper's messages are checked like stored JSON (Checking, Described, Refused): a
    damaged one is the check process's fault, said in one line, not a KeyError in the app."""
    line = json.dumps(answer)
    proc = subprocess.Popen(
        [sys.executable, "-c", f"print({line!r})"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        with pytest.raises(SpecError) as info:
            _answers(proc, ["m:f"], 5.0, None)
    finally:
        _kill(proc)
    assert str(info.value) == "activations m:f: the check process sent an unreadable answer"


def test_the_apps_check_is_bounded(user_dir: Path) -> None:
    with pytest.raises(ConfigError) as info:
        describe(["./acts.py:hang"])
    assert str(info.value) == (
        "activation './acts.py:hang': its check did not finish within 2 s (a function that never "
        f"returns?) and was stopped; {LIMIT_ENV} sets the limit"
    )
    assert helpers(os.getpid()) == []


def test_a_check_given_up_is_killed_at_once(user_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app closing (or a run stopped) does not wait for the check's limit."""
    monkeypatch.setenv(LIMIT_ENV, "600")
    give_up = threading.Event()
    raised: list[BaseException] = []

    def check() -> None:
        try:
            describe(["./acts.py:hang"], stopped=give_up.is_set)
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=check)
    thread.start()
    wait_for(lambda: helpers(os.getpid()), "the check helper")
    (pid,) = helpers(os.getpid())
    give_up.set()
    thread.join(DEADLINE_S)
    assert not thread.is_alive() and isinstance(raised[0], Stopped)
    assert not alive(pid)


def test_quitting_the_app_does_not_wait_for_a_hanging_check(
    user_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A function added from the palette hangs in its check: the app's exit kills the helper
    (its thread would otherwise hold the interpreter's exit until the check's limit)."""
    from actlab.tui.app import create_app

    monkeypatch.setenv(LIMIT_ENV, "600")
    found: list[int] = []

    async def scenario() -> None:
        app = create_app(RunConfig(activations=("relu", "tanh")), save_runs=False)
        async with app.run_test() as pilot:
            screen = await lab(pilot)
            screen.add_member_spec("./acts.py:hang")
            await until(pilot, lambda: bool(helpers(os.getpid())), "the check helper")
            found.extend(helpers(os.getpid()))

    asyncio.run(scenario())
    wait_for(lambda: not alive(found[0]), "the check helper to be killed")


# --- the app's engine process: Start -------------------------------------------------------------


@pytest.fixture
def host() -> Iterator[tuple[RunHost, Inbox]]:
    inbox = Inbox()
    host = RunHost(inbox, threads=1)
    yield host, inbox
    host.close()


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("./acts.py:softmax", "is not elementwise"),
        ("./acts.py:hang", "its check did not finish within 2 s"),
        ("./dtype_on_import.py:f", "changes torch's default dtype"),
    ],
)
def test_a_run_refused_at_start_leaves_no_folder(
    user_dir: Path, tiny_config: RunConfig, host: tuple[RunHost, Inbox], spec: str, reason: str
) -> None:
    """The app makes the run's folder at Start; the engine process checks the functions (in a
    bounded helper), and a refused one ends the run with one line and no folder."""
    h, inbox = host
    run_dir = user_dir / "runs" / "r1"
    run_dir.mkdir(parents=True)
    h.start(1, tiny_config.replace(activations=("relu", spec)), str(run_dir))
    ended = inbox.ended(1)
    assert ended.summary is None and ended.error is not None
    assert reason in ended.error and "\n" not in ended.error and spec in ended.error
    assert not run_dir.exists()


def test_stop_during_a_hanging_check_ends_the_run_at_once(
    user_dir: Path, tiny_config: RunConfig, host: tuple[RunHost, Inbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LIMIT_ENV, "600")
    h, inbox = host
    run_dir = user_dir / "runs" / "r1"
    run_dir.mkdir(parents=True)
    h.start(1, tiny_config.replace(activations=("relu", "./acts.py:hang")), str(run_dir))
    engine = h.pid
    assert engine is not None
    wait_for(lambda: helpers(engine), "the engine's check helper")
    (pid,) = helpers(engine)
    h.stop(1)
    ended = inbox.ended(1)
    assert isinstance(ended, RunEnded) and ended.summary is None and ended.error is None
    assert not alive(pid) and not run_dir.exists()
