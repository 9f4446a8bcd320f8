"""The lab driven by a pilot through real, tiny runs on the bundled sample.

Synchronisation is by condition (a phase reached, a worker done), never by sleeping for a
guessed time; each wait has a generous deadline so a slow machine fails loudly, not flakily.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from actlab.engine import RunConfig
from actlab.tui.app import create_app
from actlab.tui.state import Phase
from actlab.tui.widgets.controls import ControlsPanel
from actlab.tui.widgets.table import ThresholdTable
from pilots import engine_children, lab, until


def long_config(tiny_config: RunConfig) -> RunConfig:
    """Long enough that it is certainly still running when the test acts on it."""
    return tiny_config.replace(epochs=200, max_iterations=None, diagnostics_every=0)


def table_cells(table: ThresholdTable) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(r)] for r in range(table.row_count)]


def test_start_to_finish_fills_the_table_and_saves_the_run(tiny_config: RunConfig, tmp_path: Path) -> None:
    async def scenario() -> None:
        app = create_app(config=tiny_config, runs_root=tmp_path)
        async with app.run_test(size=(160, 48)) as pilot:
            screen = await lab(pilot)
            await pilot.press("ctrl+s")
            await app.workers.wait_for_complete()
            await until(pilot, lambda: screen.phase == Phase.DONE, "the run to finish")
            table = screen.query_one(ThresholdTable)
            rows = table_cells(table)
            assert [r[0] for r in rows] == ["sigmoid", "tanh", "relu"]
            assert all(r[1] == "done" for r in rows)
            # the saved run is complete, and the app's table agrees with the saved summary
            run_dirs = list(tmp_path.iterdir())
            assert len(run_dirs) == 1
            saved = json.loads((run_dirs[0] / "summary.json").read_text())
            assert saved["status"] == "done" and saved["iterations"] == 40
            shown = table.summary().to_json()
            for mine, theirs in zip(shown["members"], saved["members"]):
                assert mine["thresholds"] == theirs["thresholds"]
                assert mine["final_accuracy"] == theirs["final_accuracy"]
            assert run_dirs[0].name in str(screen.status.run_dir)
            assert screen.status.iteration == 40

    asyncio.run(scenario())


def test_stop_mid_run_keeps_the_results(tiny_config: RunConfig) -> None:
    async def scenario() -> None:
        app = create_app(config=long_config(tiny_config), save_runs=False)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await lab(pilot)
            await pilot.press("ctrl+s")
            await until(pilot, lambda: screen.status.iteration >= 20, "some training")
            await pilot.press("ctrl+g")
            await until(pilot, lambda: screen.phase == Phase.STOPPED, "the stopped phase")
            assert 0 < screen.status.iteration < screen.status.total_iterations
            rows = table_cells(screen.query_one(ThresholdTable))
            assert [r[1] for r in rows] == ["stopped"] * 3

    asyncio.run(scenario())


def test_pause_holds_the_loop_and_resume_goes_on(tiny_config: RunConfig) -> None:
    # that no iteration advances while paused is proven in test_engine_process; here: the keys
    async def scenario() -> None:
        app = create_app(config=long_config(tiny_config), save_runs=False)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await lab(pilot)
            await pilot.press("ctrl+s")
            await until(pilot, lambda: screen.phase == Phase.TRAINING, "training")
            await pilot.press("ctrl+t")
            assert screen.phase == Phase.PAUSED and screen.training == screen.run_id
            await pilot.press("ctrl+t")
            assert screen.phase == Phase.TRAINING
            at = screen.status.iteration
            await until(pilot, lambda: screen.status.iteration > at, "training after the resume")
            await pilot.press("ctrl+g")
            await until(pilot, lambda: screen.phase == Phase.STOPPED, "the stop")

    asyncio.run(scenario())


def test_five_rapid_restarts_leave_one_engine_and_the_last_run(tiny_config: RunConfig) -> None:
    async def scenario() -> None:
        app = create_app(config=tiny_config, save_runs=False)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await lab(pilot)
            for _ in range(5):
                await pilot.press("ctrl+s")  # each one restarts the comparison
            await until(pilot, lambda: screen.phase == Phase.DONE, "the last run to finish")
            assert screen.run_id == 5 and screen.status.iteration == 40
            await until(pilot, lambda: not screen.host.active, "every run sent to have ended")
            assert engine_children() == [screen.host.pid], "want exactly one engine process"

    asyncio.run(scenario())


def test_quitting_mid_run_stores_the_stop_before_the_engine_ends(
    tiny_config: RunConfig, tmp_path: Path
) -> None:
    async def scenario() -> None:
        app = create_app(config=long_config(tiny_config), runs_root=tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await lab(pilot)
            await pilot.press("ctrl+s")
            await until(pilot, lambda: screen.status.iteration >= 10, "some training")
            await pilot.press("ctrl+q")

    asyncio.run(scenario())
    # by the time the app is gone, the run's end is stored and no engine process is left
    (run_dir,) = tmp_path.iterdir()
    last = json.loads((run_dir / "events.jsonl").read_text().splitlines()[-1])
    assert last["type"] == "run_finished" and last["status"] == "stopped"
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "stopped"
    assert engine_children() == []


def test_start_is_refused_while_settings_are_invalid(tiny_config: RunConfig) -> None:
    async def scenario() -> None:
        app = create_app(config=tiny_config, save_runs=False)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await lab(pilot)
            screen.query_one("#f-depth").value = "0"  # type: ignore[attr-defined]
            await pilot.pause()
            assert "depth" in screen.form_errors
            await pilot.press("ctrl+s")
            assert screen.phase == Phase.IDLE and screen.training is None
            assert any("depth 0" in n.message for n in app._notifications)

    asyncio.run(scenario())


def test_settings_are_locked_during_a_run(tiny_config: RunConfig) -> None:
    async def scenario() -> None:
        app = create_app(config=long_config(tiny_config), save_runs=False)
        async with app.run_test(size=(160, 48)) as pilot:
            screen = await lab(pilot)
            controls = screen.query_one(ControlsPanel)
            await pilot.press("ctrl+s")
            await until(pilot, lambda: screen.phase == Phase.TRAINING, "training")
            assert not controls.display  # the results get the whole width while training
            screen.toggle_member("gelu")  # from the command palette: refused with a notice
            await pilot.press("ctrl+b")  # brought back during the run: shown locked
            assert controls.display and screen.query_one("#f-lr").disabled
            assert "gelu" not in screen.query_one("#f-activations").selected  # type: ignore[attr-defined]
            await pilot.press("ctrl+b")
            assert not controls.display
            await pilot.press("ctrl+g")
            await app.workers.wait_for_complete()
            await until(pilot, lambda: not screen.phase.active, "the run to end")
            assert not controls.locked and not screen.query_one("#f-lr").disabled
            assert not controls.display  # hidden by the user, so it stays hidden

            await pilot.press("ctrl+b")
            await pilot.press("ctrl+s")  # hidden by the run: back when it ends, unlocked
            await until(pilot, lambda: screen.phase == Phase.TRAINING, "training again")
            await pilot.press("ctrl+g")
            await app.workers.wait_for_complete()
            await until(pilot, lambda: not screen.phase.active, "the second run to end")
            assert controls.display and not screen.query_one("#f-lr").disabled

    asyncio.run(scenario())


def test_a_data_error_becomes_a_notice(tiny_config: RunConfig, tmp_path: Path) -> None:
    async def scenario() -> None:
        bad = tiny_config.replace(dataset="idx", data_dir=str(tmp_path / "nowhere"))
        app = create_app(config=bad, save_runs=False)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await lab(pilot)
            await pilot.press("ctrl+s")
            await app.workers.wait_for_complete()
            await until(pilot, lambda: screen.phase == Phase.FAILED, "the failure")
            assert screen.status.error
            # Textual posts a notice as a message of its own: wait for it to be taken in
            await until(pilot, lambda: any(n.severity == "error" for n in app._notifications), "the notice")

    asyncio.run(scenario())


def test_hidden_diagnostics_tabs_wait_and_catch_up_when_shown() -> None:
    """Views in hidden tabs are fed but neither mounted nor drawn while events arrive; showing
    the tab mounts its view, which draws everything it was fed."""
    from actlab.tui.widgets.diagnostics import GradientFlowView
    from textual.widgets import TabbedContent

    fixture = Path(__file__).parent / "fixtures" / "diag_clip"

    async def scenario() -> None:
        app = create_app(open_dir=str(fixture), save_runs=False)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await lab(pilot)
            (pane_id, view) = next(
                (k, v) for k, v in screen._unmounted.items() if isinstance(v, GradientFlowView)
            )
            assert isinstance(view, GradientFlowView)
            await until(pilot, lambda: screen.phase is Phase.SAVED, "the replay to end")
            await pilot.pause()
            assert view.history.iterations and not view.is_mounted  # fed, not drawn
            assert view._drawn_version != view.history.version
            screen.query_one(TabbedContent).active = pane_id
            await until(pilot, lambda: view._drawn_version == view.history.version, "the view to catch up")
            assert view.is_mounted and view in screen._views

    asyncio.run(scenario())


def test_members_added_by_spec_and_refused_when_served(tiny_config: RunConfig, tmp_path: Path) -> None:
    """The palette's "Add member: <spec>": parameters at once, the user's function after the
    helper process checked it; a served app refuses code the server was not started with."""
    (tmp_path / "acts.py").write_text(
        "import torch\n\ndef bent(z):\n    return (torch.sqrt(z * z + 1) - 1) / 2 + z\n"
    )
    here = os.getcwd()
    os.chdir(tmp_path)
    try:

        async def scenario(served: bool) -> None:
            app = create_app(config=tiny_config, save_runs=False, served=served)
            async with app.run_test(size=(120, 40)) as pilot:
                screen = await lab(pilot)
                chooser = screen.query_one("#f-activations")
                screen.add_member_spec("leaky_relu(slope=0.02)")
                await pilot.pause()
                assert "leaky_relu(0.02)" in chooser.selected  # type: ignore[attr-defined]
                screen.add_member_spec("./acts.py:bent")
                await app.workers.wait_for_complete()
                await pilot.pause()
                added = "./acts.py:bent" in chooser.selected  # type: ignore[attr-defined]
                notes = " ".join(n.message for n in app._notifications)
                if served:
                    assert not added and "a served lab adds only the activations" in notes
                else:
                    assert added, notes
                    assert screen.form_config is not None
                    assert screen.form_config.activations[-2:] == ("leaky_relu(0.02)", "./acts.py:bent")

        asyncio.run(scenario(served=False))
        asyncio.run(scenario(served=True))
    finally:
        os.chdir(here)


def test_a_run_with_parametric_learned_and_custom_members(tiny_config: RunConfig, tmp_path: Path) -> None:
    """The app shows what batch mode writes: every member, its epoch alone; the custom
    member's curves known to the UI from the run itself (the UI process never imports it)."""
    from actlab.engine.activation_lookup import lookup

    (tmp_path / "acts.py").write_text(
        "import torch\n\ndef bent(z):\n    return (torch.sqrt(z * z + 1) - 1) / 2 + z\n"
    )
    specs = ("sigmoid", "relu", "leaky_relu(0.01)", "prelu", "./acts.py:bent")
    here = os.getcwd()
    os.chdir(tmp_path)
    try:

        async def scenario() -> None:
            app = create_app(config=tiny_config.replace(activations=specs), runs_root=tmp_path / "runs")
            async with app.run_test(size=(160, 48)) as pilot:
                screen = await lab(pilot)
                await pilot.press("ctrl+s")
                await until(pilot, lambda: screen.phase in (Phase.DONE, Phase.FAILED), "the run to finish")
                assert screen.phase == Phase.DONE
                table = screen.query_one(ThresholdTable)
                assert [r[0] for r in table_cells(table)] == list(specs)
                shown = table.summary().to_json()
                (run_dir,) = (tmp_path / "runs").iterdir()
                saved = json.loads((run_dir / "summary.json").read_text())
                for mine, theirs in zip(shown["members"], saved["members"], strict=True):
                    assert mine["epoch_time_alone_s"] == theirs["epoch_time_alone_s"] is not None
                    assert mine["prelu_slopes"] == theirs["prelu_slopes"]
                assert saved["members"][3]["prelu_slopes"] is not None
                custom = lookup("./acts.py:bent")
                assert custom is not None and custom.kind == "custom"

        asyncio.run(scenario())
    finally:
        os.chdir(here)
