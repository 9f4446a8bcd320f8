"""The views of saved results in the app: a sweep, a seeds directory, a comparison; Enter on a
point or seed replays its run in the lab and escape comes back; foreign or damaged
directories are one line and exit 2 before the app starts.

Sweeps and seeds are made here by the engine in-process (tiny runs on the bundled sample),
or read from the stored sweep of tests/fixtures/tui_sweep (made with `actlab-tui --batch
--sweep "lr=0.05,0.2 depth=1,2" --seeds 3`). Waits are on conditions, never on time.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from actlab.engine import RunConfig
from actlab.engine.data import Dataset
from actlab.engine.experiments.compare import load_run, load_runs
from actlab.engine.experiments.opened import OpenedSeeds, OpenedSweep
from actlab.engine.experiments.report_sweeps import sweep_rows
from actlab.engine.experiments.saved import load_saved
from actlab.engine.experiments.sweep_dir import load_plan
from actlab.engine.experiments.sweep_results import sweep_results
from actlab.tui.app import create_app
from actlab.tui.screens.compare_view import CompareScreen
from actlab.tui.screens.replay import RunScreen
from actlab.tui.screens.seeds import SeedsScreen
from actlab.tui.screens.sweep import SweepScreen
from actlab.tui.state import Phase
from actlab.tui.widgets.curves import BandsChart
from actlab.tui.widgets.rows_table import RowsTable
from actlab.tui.widgets.statements import Statements
from actlab.tui.widgets.table import ThresholdTable
from actlab.tui.widgets.verdict import VerdictPanel
from actlab.tui.widgets.wins import WinsGrid
from pilots import until
from sweeps import finished_sweep
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import TabbedContent

SWEEP = Path(__file__).parent / "fixtures" / "tui_sweep"


def cli(*args: str, cache_dir: Path) -> subprocess.CompletedProcess[str]:
    """The real command, with no terminal: a directory refused before the app starts ends it
    at once; one the app would show would wait, and time out."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "XDG_CACHE_HOME": str(cache_dir)}
    return subprocess.run(
        [sys.executable, "-m", "actlab.tui", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=30,
    )


def cells(table: RowsTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(r)] for r in range(table.row_count)]


async def on_screen(pilot: Pilot[None], kind: type[Screen[None]]) -> Screen[None]:
    await until(pilot, lambda: isinstance(pilot.app.screen, kind), f"the {kind.__name__}")
    return pilot.app.screen


def test_a_sweep_made_by_the_engine_opens_in_the_sweep_view(
    small: RunConfig, sample: Dataset, tmp_path: Path
) -> None:
    root = tmp_path / "sweep"
    plan = finished_sweep(root, small, [("lr", [0.02, 0.2]), ("depth", [1, 2])], [0, 1], sample)
    saved = load_saved(str(root))
    assert isinstance(saved, OpenedSweep)

    async def scenario() -> None:
        app = create_app(open_dir=str(root), save_runs=False)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await on_screen(pilot, SweepScreen)
            table = screen.query_one("#points", RowsTable)
            # the rows --batch prints, one per point and activation, in order
            assert cells(table) == sweep_rows(sweep_results(root, plan))[1:]
            assert table.row_count == 4 * 2
            grid = screen.query_one("#wins", WinsGrid)
            heatmap = saved.results.heatmap
            assert heatmap is not None
            assert [[c.winner for c in r.cells] for r in heatmap.rows] == [
                [grid.cell_at(r, c).winner for c in range(2)] for r in range(2)
            ]
            views = screen.query_one(TabbedContent)
            await pilot.press("l")  # lr is swept: the best-lr tab
            assert views.active == "tab-best"
            await pilot.press("s")
            assert views.active == "tab-paired"
            await pilot.press("p")
            assert views.active == "tab-points"

    asyncio.run(scenario())


def test_enter_on_a_point_opens_its_seeds_and_enter_on_a_seed_replays_it() -> None:
    async def scenario() -> None:
        app = create_app(open_dir=str(SWEEP), save_runs=False)
        async with app.run_test(size=(80, 24)) as pilot:
            sweep = await on_screen(pilot, SweepScreen)
            await pilot.press("down", "down", "down")  # lr=0.05,depth=2: its first row
            await pilot.press("enter")
            seeds = await on_screen(pilot, SeedsScreen)
            assert isinstance(seeds, SeedsScreen)
            assert seeds.saved.directory.endswith("lr=0.05,depth=2")
            assert seeds.query_one(TabbedContent).active == "tab-runs"
            assert [r[0] for r in cells(seeds.query_one("#seed-runs", RowsTable))] == ["0", "1", "2"]
            await pilot.press("down", "enter")  # seed 1, in the lab
            lab = await on_screen(pilot, RunScreen)
            assert isinstance(lab, RunScreen)
            await until(pilot, lambda: lab.phase == Phase.SAVED, "the replay to end")
            assert str(lab.status.run_dir).endswith("lr=0.05,depth=2/seed-1")
            assert lab.query_one(ThresholdTable).summary().seed == 1
            await pilot.press("escape")
            assert await on_screen(pilot, SeedsScreen) is seeds
            await pilot.press("escape")
            assert await on_screen(pilot, SweepScreen) is sweep
            await pilot.press("escape")  # the first view: nowhere to go back to
            await pilot.pause()
            assert app.screen is sweep
        assert app.exit_code == 0

    asyncio.run(scenario())


def test_a_seeds_directory_opens_with_its_paired_statements(
    small: RunConfig, sample: Dataset, tmp_path: Path
) -> None:
    root = tmp_path / "seeds"
    finished_sweep(root, small.replace(thresholds=(0.3, 0.6)), [], [0, 1, 2], sample)
    saved = load_saved(str(root))
    assert isinstance(saved, OpenedSeeds) and saved.seeds == [0, 1, 2] and not saved.missing
    paired = saved.aggregate.members[1].thresholds[0].vs_baseline
    assert paired is not None
    statement = paired.statement
    assert statement.startswith("relu reaches 0.3") and "of 3 seeds" in statement

    async def scenario() -> None:
        app = create_app(open_dir=str(root), save_runs=False)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await on_screen(pilot, SeedsScreen)
            table = cells(screen.query_one("#aggregate", RowsTable))
            assert table[0][0] == "Iterations to reach 0.3" and len(table[0]) == 3
            assert statement in screen.query_one("#seed-statements", Statements).statements
            await app.workers.wait_for_complete()  # the curves, read from each seed's events
            # a mean and a min-max band per member, not a line per seed: checked against the
            # seeds' own evaluations
            bands = screen.query_one("#curves", BandsChart).curves
            assert [b.label for b in bands] == ["sigmoid", "relu"]
            runs = [load_run(d, "") for d in saved.runs.values()]
            for m, b in enumerate(bands):
                per_seed = [dict(zip(*r.curve(m))) for r in runs]
                for it, mean, low, high in zip(b.iterations, b.mean, b.low, b.high):
                    values = [c[it] for c in per_seed]
                    assert mean == pytest.approx(sum(values) / 3) and (low, high) == (
                        min(values),
                        max(values),
                    )
            assert [b.label for b in screen.query_one("#loss", BandsChart).curves] == ["sigmoid", "relu"]
            verdict = saved.aggregate.verdict
            assert verdict is not None and verdict.recommended in ("sigmoid", "relu")
            shown = screen.query_one(VerdictPanel).shown.plain
            assert f"Recommended: {verdict.recommended}" in shown
            assert all(sentence in shown for sentence in verdict.sentences)
            await pilot.press("r", "enter")
            lab = await on_screen(pilot, RunScreen)
            await until(pilot, lambda: lab.phase == Phase.SAVED, "the replay to end")  # type: ignore[attr-defined]
            await pilot.press("escape")
            await on_screen(pilot, SeedsScreen)

    asyncio.run(scenario())


def test_compare_in_the_app_shows_members_differences_and_curves() -> None:
    dirs = [str(SWEEP / "lr=0.05,depth=1" / "seed-0"), str(SWEEP / "lr=0.2,depth=1" / "seed-0")]
    runs = load_runs(dirs)

    async def scenario() -> None:
        app = create_app(compare_runs=runs, save_runs=False)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await on_screen(pilot, CompareScreen)
            members = cells(screen.query_one("#members", RowsTable))
            assert [r[1] for r in members] == ["sigmoid", "tanh", "relu"] * 2
            differences = cells(screen.query_one("#differences", RowsTable))
            assert differences == [["lr", "0.05", "0.2"]]
            assert len(screen.query_one("#curves").curves) == 6  # type: ignore[attr-defined]
            await pilot.press("down", "down", "down", "enter")  # the second run's first member
            lab = await on_screen(pilot, RunScreen)
            await until(pilot, lambda: lab.phase == Phase.SAVED, "the replay to end")  # type: ignore[attr-defined]
            assert str(lab.status.run_dir).endswith("lr=0.2,depth=1/seed-0")  # type: ignore[attr-defined]
            await pilot.press("escape")
            await on_screen(pilot, CompareScreen)

    asyncio.run(scenario())


# --- foreign and damaged directories: one line, exit 2 ----------------------------------------


def _damaged_plan(root: Path) -> None:
    (root / "sweep.json").write_text("{ not json")


def _edited_plan(root: Path) -> None:
    d = json.loads((root / "sweep.json").read_text())
    d["points"][0]["name"] = "lr=0.5,depth=1"
    (root / "sweep.json").write_text(json.dumps(d))


def _torn_summary(root: Path) -> None:
    (root / "lr=0.2,depth=2" / "seed-1" / "summary.json").write_text('{"members": [{"activ')


def _damaged_summary(root: Path) -> None:
    summary = '{"status": "done", "members": [{"activation": "relu"}]}'
    (root / "lr=0.2,depth=2" / "seed-1" / "summary.json").write_text(summary)


def _foreign(root: Path) -> None:
    shutil.rmtree(root)
    root.mkdir()
    (root / "notes.txt").write_text("not a run")


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (_damaged_plan, "not readable as a sweep plan"),
        (_edited_plan, "does not match its own axes"),
        (_torn_summary, "not a readable summary"),
        (_damaged_summary, "damaged"),
        (_foreign, "not an actlab run, sweep or seeds directory"),
    ],
    ids=["plan-not-json", "plan-edited", "summary-torn", "summary-damaged", "foreign"],
)
def test_a_damaged_or_foreign_directory_is_one_line_and_exit_2(
    damage: object, words: str, tmp_path: Path, cache_dir: Path
) -> None:
    root = tmp_path / "sweep"
    shutil.copytree(SWEEP, root)
    damage(root)  # type: ignore[operator]
    r = cli("--open", str(root), cache_dir=cache_dir)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("actlab-tui: error: ") and words in lines[0]
    assert r.stdout == ""  # the app never started


def test_a_missing_directory_is_one_line_and_exit_2(tmp_path: Path, cache_dir: Path) -> None:
    r = cli("--open", str(tmp_path / "nowhere"), cache_dir=cache_dir)
    assert r.returncode == 2 and "no such directory" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_compare_app_refuses_print_options(cache_dir: Path) -> None:
    r = cli("compare", "--app", "--format", "md", str(SWEEP / "lr=0.05,depth=1"), cache_dir=cache_dir)
    assert r.returncode == 2 and "--app" in r.stderr


def test_the_fixture_is_a_sweep_the_engine_reads() -> None:
    plan = load_plan(SWEEP)
    assert [n for n, _ in plan.axes] == ["lr", "depth"] and plan.seeds == [0, 1, 2]
    assert sweep_results(SWEEP, plan).complete
