"""Custom activations measured outside the app's process.

The app's process imports neither PyTorch nor the user's code, yet its list, preview and
properties tab need a custom activation's figures. `describe` runs a short-lived process
(`python -P -m actlab.engine.custom SPEC...`) with the environment the engine process gets
(the same import path, the working directory not on it, the same working directory), which
imports, checks and measures each function and prints its description as JSON; the figures
come back as plain data (`activations.remember`). The command line uses it before the app
opens (a bad function is one line and exit 2); the palette uses it when adding one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from actlab.engine.activations import entry_points, member_spec, remember
from actlab.engine.config import ConfigError, RunConfig

from .engine_process import _child_env

TIMEOUT_S = 120.0


def custom_specs(config: RunConfig) -> list[str]:
    return [a for a in config.activations if member_spec(a).kind == "custom"]


def describe(specs: list[str]) -> list[dict[str, Any]]:
    """Each spec's measured description, remembered in this process; ConfigError (one
    line) for the first that fails its checks."""
    out = []
    for d in _measured(specs):
        if "error" in d:
            raise ConfigError(str(d["error"]))
        remember(d)
        out.append(d)
    return out


def _measured(specs: list[str]) -> list[dict[str, Any]]:
    """What the helper process prints: a description, or {"spec", "error"}, per spec."""
    if not specs:
        return []
    try:
        done = subprocess.run(
            [sys.executable, "-P", "-m", "actlab.engine.custom", *specs],
            capture_output=True,
            text=True,
            env=_child_env(),
            timeout=TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"activations {', '.join(specs)}: checking them took over {TIMEOUT_S:g} s"
        ) from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or len(lines) != len(specs):
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConfigError(f"activations {', '.join(specs)}: the check failed: {last}")
    return [json.loads(line) for line in lines]


def describe_entry_points(config: RunConfig) -> None:
    """Measure the activations installed packages register, for the app's list and preview;
    one that fails its checks stays listed, unmeasured, and is refused when a run starts."""
    names = [name for name in entry_points() if name not in config.activations]
    try:
        found = _measured(names)
    except ConfigError:
        return
    for d in found:
        if "error" not in d:
            remember(d)
