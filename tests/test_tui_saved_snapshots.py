"""Snapshots of the views of saved results at 80x24 and 160x48: a sweep (points, wins),
a point's seeds and a comparison, all read from the stored sweep of tests/fixtures/tui_sweep.
Refresh with `make test-snapshot-update` after a deliberate change, and look at the pictures.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from actlab.tui.screens.views import SavedScreen
from snapshot_apps.lab import ROOT
from snapshot_apps.saved import SEEDS, SWEEP, compare_app, saved_app
from textual.pilot import Pilot

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


@pytest.fixture(autouse=True)
def at_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the fixture's path in the titles is relative to here


def then(*steps: Callable[[Pilot[None]], Awaitable[object]]) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run_before(pilot: Pilot[None]) -> None:
        for _ in range(500):  # by condition: the view is up
            if isinstance(pilot.app.screen, SavedScreen):
                break
            await pilot.pause()
        assert isinstance(pilot.app.screen, SavedScreen), "the view never came up"
        for step in steps:
            await step(pilot)
        await pilot.app.workers.wait_for_complete()  # a seeds view reads its curves in a worker
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_sweep_points(snap_compare, size: tuple[int, int]) -> None:
    # 80x24: the table, the highlighted row's statements below; 160x48: the wins grid beside
    async def to_relu(pilot: Pilot[None]) -> None:
        await pilot.press("down", "down")  # lr=0.05,depth=1, relu

    assert snap_compare(saved_app(), terminal_size=size, run_before=then(to_relu))


@pytest.mark.parametrize("size", SIZES)
def test_sweep_wins(snap_compare, size: tuple[int, int]) -> None:
    async def wins(pilot: Pilot[None]) -> None:
        await pilot.press("w")

    assert snap_compare(saved_app(), terminal_size=size, run_before=then(wins))


def test_sweep_best_lr(snap_compare) -> None:
    async def best(pilot: Pilot[None]) -> None:
        await pilot.press("l")

    assert snap_compare(saved_app(), terminal_size=(80, 24), run_before=then(best))


def test_point_seeds_from_the_sweep(snap_compare) -> None:
    async def open_point(pilot: Pilot[None]) -> None:
        await pilot.press("ctrl+end", "enter")  # lr=0.2,depth=2: relu's spread is wide

    assert snap_compare(saved_app(), terminal_size=(80, 24), run_before=then(open_point))


def press(*keys: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def step(pilot: Pilot[None]) -> None:
        await pilot.press(*keys)

    return step


@pytest.mark.parametrize("size", SIZES)
def test_seeds_over_seeds(snap_compare, size: tuple[int, int]) -> None:
    # an older sweep's point (no validation split): "not measured", the choice on test
    app = saved_app(f"{SWEEP}/lr=0.2,depth=2")
    assert snap_compare(app, terminal_size=size, run_before=then(press("a")))


def test_seeds_curves(snap_compare) -> None:
    # the mean over the point's 3 seeds with its min-max band, not a line per seed
    app = saved_app(f"{SWEEP}/lr=0.2,depth=2")
    assert snap_compare(app, terminal_size=(80, 24), run_before=then(press("c")))


@pytest.mark.parametrize("size", SIZES)
def test_seeds_verdict(snap_compare, size: tuple[int, int]) -> None:
    # the view opens on the verdict: the recommendation, chosen on validation, claims on test
    assert snap_compare(saved_app(SEEDS), terminal_size=size, run_before=then())


@pytest.mark.parametrize("size", SIZES)
def test_seeds_pairs(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(saved_app(SEEDS), terminal_size=size, run_before=then(press("p")))


def test_sweep_trainability(snap_compare) -> None:
    # a depth x sigma_w2 sweep from init gaussian: accuracy per point against 6 xi_c (issue 22)
    app = saved_app("tests/fixtures/tui_trainability")
    assert snap_compare(app, terminal_size=(80, 24), run_before=then(press("t")))


@pytest.mark.parametrize("key", ["c", "l"], ids=["accuracy", "loss"])
def test_seeds_bands(snap_compare, key: str) -> None:
    assert snap_compare(saved_app(SEEDS), terminal_size=(80, 24), run_before=then(press(key)))


@pytest.mark.parametrize("tab", ["r", "d", "c"], ids=["runs", "differences", "curves"])
def test_compare(snap_compare, tab: str) -> None:
    async def show(pilot: Pilot[None]) -> None:
        await pilot.press(tab)

    app = compare_app(f"{SWEEP}/lr=0.05,depth=1/seed-0", f"{SWEEP}/lr=0.2,depth=1/seed-0")
    assert snap_compare(app, terminal_size=(80, 24), run_before=then(show))
