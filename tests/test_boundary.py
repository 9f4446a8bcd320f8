"""The engine stays UI-free: importing it pulls in no textual, rich or click. The UI stays
PyTorch-free: the app's process reads the engine's config, events and registry without it.
The experiments layer (`actlab.engine.experiments`) is neither UI nor training: each of its
modules imports without textual, rich, click and PyTorch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def test_engine_imports_no_ui_packages() -> None:
    code = (
        "import sys, actlab.engine, actlab.engine.train, actlab.engine.experiments.results, "
        "actlab.engine.experiments.report, actlab.engine.diagnostics\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'click'))\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"engine imported UI modules: {out.stdout.strip()}"


def _loaded_after(imports: str) -> set[str]:
    code = f"import sys\n{imports}\nprint(','.join(sorted(m.split('.')[0] for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.strip().split(","))


def test_config_events_results_and_registry_load_without_torch() -> None:
    """The app's UI process reads these; PyTorch is for the engine process and batch mode."""
    loaded = _loaded_after(
        "import actlab.engine, actlab.engine.config, actlab.engine.events, actlab.engine.metrics, "
        "actlab.engine.errors, actlab.engine.activations\n"
        "from actlab.engine import ACTIVATIONS, ConfigError, Control, DataError, RunConfig\n"
        "RunConfig().validate()"
    )
    assert "torch" not in loaded


def test_the_app_loads_without_torch() -> None:
    """The UI process: the command line and the app with its screens and widgets."""
    loaded = _loaded_after("import actlab.tui.cli, actlab.tui.app, actlab.tui.screens.help")
    assert "torch" not in loaded


def test_the_views_of_sweeps_seeds_and_comparisons_load_without_torch() -> None:
    """--open on a sweep or seeds directory, and compare --app: read and shown without PyTorch."""
    loaded = _loaded_after(
        "import actlab.tui.screens.sweep, actlab.tui.screens.seeds, actlab.tui.screens.compare_view\n"
        "from actlab.engine.experiments.saved import load_saved\n"
        "from actlab.engine.experiments.compare import load_runs\n"
        "load_saved('tests/fixtures/tui_sweep'); load_saved('tests/fixtures/tui_sweep/lr=0.2,depth=1')\n"
        "load_runs(['tests/fixtures/tui_sweep/lr=0.2,depth=1'])"
    )
    assert "torch" not in loaded


EXPERIMENTS = sorted(
    f"actlab.engine.experiments.{p.stem}"
    for p in (Path(__file__).parent.parent / "engine" / "experiments").glob("*.py")
    if p.stem != "__init__"
)


def test_every_experiments_module_is_checked() -> None:
    assert "actlab.engine.experiments.results" in EXPERIMENTS and len(EXPERIMENTS) >= 4


@pytest.mark.parametrize("module", EXPERIMENTS)
def test_an_experiments_module_imports_neither_torch_nor_ui(module: str) -> None:
    """Each module alone, in a fresh interpreter: what it pulls in is its own doing."""
    loaded = _loaded_after(f"import {module}")
    assert not loaded & {"torch", "textual", "rich", "click"}, (
        f"{module} imported {loaded & {'torch', 'textual', 'rich', 'click'}}"
    )
