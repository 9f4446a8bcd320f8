"""Custom activations measured outside the app's process.

The app's process imports neither PyTorch nor the user's code, yet its list, preview and
properties tab need a custom activation's figures. `describe` runs the check helper
(`engine.custom_process`: a short-lived process with the engine process's import path and
working directory, each spec's check bounded in time, the user's output kept off its
answers), which imports, checks and measures each function; the figures come back as plain
data (`activations.remember`). The command line uses it before the app opens (a bad
function is one line and exit 2); the palette uses it when adding one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actlab.engine.activations import SpecError, entry_points, member_spec, remember
from actlab.engine.config import ConfigError, RunConfig
from actlab.engine.custom_process import Stopped, check_in_child

__all__ = ["Stopped", "custom_specs", "describe", "describe_entry_points"]


def custom_specs(config: RunConfig) -> list[str]:
    return [a for a in config.activations if member_spec(a).kind == "custom"]


def describe(specs: list[str], stopped: Callable[[], bool] | None = None) -> list[dict[str, Any]]:
    """Each spec's measured description, remembered in this process; ConfigError (one
    line) for the first that fails its checks or overruns their time limit; Stopped when
    `stopped()` turns true meanwhile (the helper is killed)."""
    out = []
    for d in _measured(specs, stopped):
        if "error" in d:
            raise ConfigError(str(d["error"]))
        remember(d["description"])
        out.append(d["description"])
    return out


def _measured(specs: list[str], stopped: Callable[[], bool] | None = None) -> list[dict[str, Any]]:
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
        if "error" not in d:
            remember(d["description"])
