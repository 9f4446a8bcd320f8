"""The actlab app: keeps its inputs and pushes the lab screen; layout lives in app.tcss."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from actlab.engine import RunConfig
from textual.app import App
from textual.binding import Binding, BindingType

from .commands import LabCommands
from .runner import ENGINES
from .screens.lab import LabScreen


class ActlabApp(App[None]):
    """Compare activation functions by training MLPs that differ only in their activation."""

    CSS_PATH = "app.tcss"
    TITLE = "actlab"
    COMMANDS = App.COMMANDS | {LabCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", priority=True, tooltip="Quit; a running comparison stops first."),
    ]

    def __init__(
        self,
        config: RunConfig | None = None,
        open_dir: str | None = None,
        runs_root: str | Path | None = None,
        save_runs: bool = True,
        engine: str = "process",
        served: bool = False,
    ) -> None:
        super().__init__()
        self.served = served  # in a browser (actlab-tui serve): folders stay the server's
        self.engine = engine
        self.config = config or RunConfig()
        self.open_dir = open_dir
        self.runs_root = runs_root
        self.save_runs = save_runs

    def on_mount(self) -> None:
        self.push_screen(LabScreen(self.config, self.open_dir, self.runs_root, self.save_runs, self.engine))


def create_app(
    config: RunConfig | None = None,
    open_dir: str | None = None,
    *,
    runs_root: str | Path | None = None,
    save_runs: bool = True,
    engine: str = "process",
    served: bool = False,
) -> ActlabApp:
    """The one way to build the app, for the command line and the tests alike.

    config: the settings the form starts from (and Reset returns to).
    open_dir: a saved run directory to show instead of an empty lab.
    runs_root: where runs started in the app are saved (default: ./actlab-runs/<time>).
    save_runs: False keeps runs in memory only (tests).
    engine: "process" trains in a child process on all CPU threads (the UI keeps its own
        interpreter); "thread" trains on the app's worker thread, one thread fewer (benchmarks).
    served: a browser session of `actlab-tui serve`: the form cannot change the data and
        cache folders.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r}: must be one of {', '.join(ENGINES)}")
    return ActlabApp(
        config=config,
        open_dir=open_dir,
        runs_root=runs_root,
        save_runs=save_runs,
        engine=engine,
        served=served,
    )
