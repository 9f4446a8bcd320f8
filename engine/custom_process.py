"""The user's activations checked in a child process: bounded in time, apart from our output.

The checks call the user's code, which may never return (`while True`), print (on the
channel the answers travel), exit, or crash the interpreter. So the app and batch mode run
them in a short-lived helper (`python -P -m actlab.engine.custom SPEC...`, see
`custom.main`) with the environment the engine process gets: the same import path without
the working directory, the same working directory. The helper says when each spec's code
starts to run; one that takes longer than the limit (`ACTLAB_CHECK_TIMEOUT_S`, 10 s by
default) is killed and refused in one line naming it and the limit.

No PyTorch here: the app's process uses this to learn a custom activation's figures
(`describe`): it imports neither PyTorch nor the user's code, yet its list, preview and
properties tab need them; the figures come back as plain data (`activation_lookup.remember`). The
command line describes the run's custom members before the app opens (a bad function is one
line and exit 2); the palette describes one when it is added.
"""

from __future__ import annotations

import collections
import json
import math
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TypedDict, final

from .activation_lookup import remember
from .activations import SpecError, entry_points, member_spec
from .config import ConfigError, RunConfig
from .events import ActivationDescription
from .schema import SchemaError, load

LIMIT_ENV = "ACTLAB_CHECK_TIMEOUT_S"
DEFAULT_LIMIT_S = 10.0
# Starting the helper (Python, then PyTorch) runs none of the user's code, but on a busy
# machine importing PyTorch alone can take tens of seconds: its own, generous bound.
START_LIMIT_S = 180.0
POLL_S = 0.1  # how often a wait looks whether the caller gave up (`stopped`)


class Stopped(Exception):
    """The caller gave up on the check (a stopped run, an app closing): no answer."""


# The helper's messages, one JSON object a line (`custom.main`): before a spec's checks call
# the user's code, `Checking` (its time limit starts); then that spec's answer.


@final
class Checking(TypedDict):
    checking: str  # the spec


@final
class Described(TypedDict):
    spec: str
    description: ActivationDescription


@final
class Refused(TypedDict):
    spec: str
    error: str  # one line naming the spec and the reason


CheckAnswer = Described | Refused


def limit_s() -> float:
    """The seconds one spec's check may take: ACTLAB_CHECK_TIMEOUT_S, else 10."""
    raw = os.environ.get(LIMIT_ENV, "").strip()
    if not raw:
        return DEFAULT_LIMIT_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise SpecError(f"{LIMIT_ENV}={raw!r}: the check's time limit must be a positive number of seconds")
    return value


def child_env() -> dict[str, str]:
    """This process's import path for the helper (an uninstalled checkout, a test's path),
    without the working directory: modules lying there are the user's, not ours."""
    cwd = os.path.abspath(os.getcwd())
    paths = [p for p in sys.path if p and os.path.abspath(p) != cwd]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def check_in_child(
    specs: list[str], stopped: Callable[[], bool] | None = None, env: dict[str, str] | None = None
) -> list[CheckAnswer]:
    """Each spec checked and measured by the helper: {"spec", "description"} or {"spec",
    "error"} (one line), in order. SpecError (one line) when a check overruns the limit or the
    helper dies; Stopped (within POLL_S) when `stopped()` turns true meanwhile. The helper is
    killed, with anything it started, whenever this returns or raises."""
    if not specs:
        return []
    limit = limit_s()
    proc = subprocess.Popen(
        [sys.executable, "-P", "-m", "actlab.engine.custom", *specs],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env or child_env(),
        start_new_session=True,  # its own group: killed with whatever the user's code started
    )
    try:
        return _answers(proc, specs, limit, stopped)
    finally:
        _kill(proc)


def _answers(
    proc: subprocess.Popen[bytes], specs: list[str], limit: float, stopped: Callable[[], bool] | None
) -> list[CheckAnswer]:
    assert proc.stdout is not None and proc.stderr is not None
    results: list[CheckAnswer] = []
    checking: str | None = None  # the spec whose code runs now
    deadline = time.monotonic() + START_LIMIT_S
    pending = b""
    tail: collections.deque[str] = collections.deque(maxlen=20)  # the helper's last stderr lines
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        sel.register(proc.stderr, selectors.EVENT_READ)
        while len(results) < len(specs) and sel.get_map():
            if stopped is not None and stopped():
                raise Stopped
            left = deadline - time.monotonic()
            if left <= 0:
                if checking is None:
                    raise SpecError(
                        f"activations {', '.join(specs)}: the check process did not start within "
                        f"{START_LIMIT_S:g} s"
                    )
                raise SpecError(
                    f"activation {checking!r}: its check did not finish within {limit:g} s (a function "
                    f"that never returns?) and was stopped; {LIMIT_ENV} sets the limit"
                )
            for key, _ in sel.select(min(left, POLL_S)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                if key.fileobj is proc.stderr:
                    tail.extend(line for line in chunk.decode(errors="replace").splitlines() if line.strip())
                    continue
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    try:
                        message: Checking | Described | Refused = load(
                            Checking | Described | Refused, json.loads(line), "answer"
                        )
                    except (ValueError, SchemaError):  # only the helper writes here; it broke off mid-line
                        raise SpecError(
                            f"activations {', '.join(specs)}: the check process sent an unreadable answer"
                        ) from None
                    if "checking" in message:
                        checking = message["checking"]
                        deadline = time.monotonic() + limit
                    else:
                        results.append(message)
                        checking = None
                        deadline = time.monotonic() + START_LIMIT_S  # our code until the next one
    if len(results) < len(specs):
        code = proc.wait()
        who = f"activation {checking!r}" if checking else f"activations {', '.join(specs)}"
        last = f"; its last output: {tail[-1][:160]}" if tail else ""
        raise SpecError(f"{who}: the check process ended (exit code {code}) before it answered{last}")
    return results


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """End the helper and its process group (not reaped yet, so its id is still its own)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass  # gone already, and all it started with it
    proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


# ------------------------------------------------------------------------------ describing


def custom_specs(config: RunConfig) -> list[str]:
    return [a for a in config.activations if member_spec(a).kind == "custom"]


def describe(specs: list[str], stopped: Callable[[], bool] | None = None) -> list[ActivationDescription]:
    """Each spec's measured description, remembered in this process; ConfigError (one
    line) for the first that fails its checks or overruns their time limit; Stopped when
    `stopped()` turns true meanwhile (the helper is killed)."""
    out = []
    for d in _measured(specs, stopped):
        if "error" in d:
            raise ConfigError(d["error"])
        remember(d["description"])
        out.append(d["description"])
    return out


def _measured(specs: list[str], stopped: Callable[[], bool] | None = None) -> list[CheckAnswer]:
    """The helper's answer per spec: {"spec", "description"} or {"spec", "error"}."""
    try:
        return check_in_child(specs, stopped)
    except SpecError as exc:
        raise ConfigError(str(exc)) from None


def describe_entry_points(config: RunConfig) -> None:
    """Measure the activations installed packages register, for the app's list and preview;
    one that fails its checks stays listed, unmeasured, and is refused when a run starts."""
    names = [name for name in entry_points() if name not in config.activations]
    try:
        found = _measured(names)
    except ConfigError:
        return
    for d in found:
        if "description" in d:
            remember(d["description"])
