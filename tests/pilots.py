"""What the pilot tests share: waiting on a condition, the lab screen, engine processes."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from actlab.tui.screens.lab import LabScreen
from textual.pilot import Pilot

DEADLINE_S = 60.0


async def until(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    """Let the app run until `condition` holds."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.01)  # yield to the app; the condition, not this, is the sync point


async def lab(pilot: Pilot[None]) -> LabScreen:
    await until(pilot, lambda: isinstance(pilot.app.screen, LabScreen), "the lab screen")
    screen = pilot.app.screen
    assert isinstance(screen, LabScreen)
    return screen


def engine_children(parent: int | None = None) -> list[int]:
    """The engine processes `parent` (default: this process) started, found in /proc (Linux)."""
    parent = os.getpid() if parent is None else parent
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit():
                continue
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue  # it ended meanwhile
        if ppid == parent and b"actlab.engine.experiments.engine_child" in cmdline:
            found.append(int(entry.name))
    return found
