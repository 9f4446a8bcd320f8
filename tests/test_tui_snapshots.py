"""Snapshots of the lab at 80x24 and 160x48: start screen, saved runs, help, a bad setting.

Saved runs are replayed from recorded event streams (tests/fixtures/tui_*, made with
`actlab-tui --batch`), never trained live, so every figure on screen is fixed. Refresh with
`make test-snapshot-update` after a deliberate change, and look at the new pictures.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from actlab.tui.screens.lab import LabScreen
from actlab.tui.state import Phase
from snapshot_apps.lab import FIXTURES, ROOT, lab_app
from textual.pilot import Pilot
from textual.widgets import Input

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
SETTLED = (Phase.IDLE, Phase.SAVED, Phase.FAILED)


@pytest.fixture(autouse=True)
def at_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # fixture paths in the status line are relative to here


async def settle(pilot: Pilot[None]) -> LabScreen:
    """Wait (by condition, not by time) for the lab screen and any replay to finish."""
    for _ in range(500):
        screen = pilot.app.screen
        if isinstance(screen, LabScreen) and screen.phase in SETTLED:
            break
        await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, LabScreen), "the lab screen never came up"
    for widget in screen.query(Input):
        widget.cursor_blink = False  # a blinking cursor would make the picture flicker
    return screen


def then(*steps: Callable[[Pilot[None]], Awaitable[object]]) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        for step in steps:
            await step(pilot)
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_start_screen(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(lab_app(), terminal_size=size, run_before=then())


@pytest.mark.parametrize("size", SIZES)
def test_finished_comparison(snap_compare, size: tuple[int, int]) -> None:
    # sigmoid, tanh and relu on the bundled sample, 2 epochs: the table has crossings,
    # "not held", "not reached" and speedups
    app = lab_app(FIXTURES / "tui_finished")
    assert snap_compare(app, terminal_size=size, run_before=then())


@pytest.mark.parametrize("size", SIZES)
def test_diverged_member(snap_compare, size: tuple[int, int]) -> None:
    # identity at lr 0.5 really diverged at iteration 11 while the others went on
    app = lab_app(FIXTURES / "tui_diverged")
    assert snap_compare(app, terminal_size=size, run_before=then())


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(lab_app(), terminal_size=size, run_before=then(lambda p: p.press("question_mark")))


@pytest.mark.parametrize("size", SIZES)
def test_invalid_setting_refuses_start(snap_compare, size: tuple[int, int]) -> None:
    async def type_bad_values(pilot: Pilot[None]) -> None:
        screen = pilot.app.screen
        lr = screen.query_one("#f-lr", Input)
        lr.focus()
        lr.value = ""  # clear, then type as a user would
        await pilot.press("minus", "1")  # a negative learning rate
        screen.query_one("#f-thresholds", Input).value = "0.8,1.5"  # a threshold above 1
        await pilot.pause()
        await pilot.press("ctrl+s")  # refused, with the reason in a notice

    assert snap_compare(lab_app(), terminal_size=size, run_before=then(type_bad_values))


def test_light_theme(snap_compare) -> None:
    app = lab_app(FIXTURES / "tui_finished", theme="textual-light")
    assert snap_compare(app, terminal_size=(100, 30), run_before=then())


def test_custom_and_parametric_members(snap_compare) -> None:
    # sigmoid, relu, leaky_relu(0.01), prelu and ./acts.py:bent_identity (tests/fixtures/acts.py)
    # recorded by --batch: the table has each member's epoch alone next to the lockstep one
    app = lab_app(FIXTURES / "tui_custom")
    assert snap_compare(app, terminal_size=(160, 48), run_before=then())
