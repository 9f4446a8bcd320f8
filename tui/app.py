"""The actlab app: keeps its inputs and pushes the lab screen; layout lives in app.tcss."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from actlab.engine.config import RunConfig
from textual.app import App
from textual.binding import Binding, BindingType

from .commands import LabCommands
from .screens.lab import LabScreen

if TYPE_CHECKING:
    from textual.screen import Screen

    from .compare import SavedRun
    from .screens.saved import Saved


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
        threads: int | str | None = None,
        served: bool = False,
        opened: Saved | None = None,
        compare_runs: list[SavedRun] | None = None,
    ) -> None:
        super().__init__()
        self.served = served  # in a browser (actlab-tui serve): folders stay the server's
        self.config = config or RunConfig()
        self.open_dir = open_dir
        self.runs_root = runs_root
        self.save_runs = save_runs
        self.threads = threads
        self.failure: str | None = None  # the last run or saved run that failed, for the exit code
        self.opened = opened  # the sweep or seeds directory at open_dir, when the caller read it
        self.compare_runs = compare_runs

    def on_mount(self) -> None:
        self.push_screen(self._first_screen())
        # A terminal closing (an SSH session dropping) or a job manager's TERM ends the app the
        # way ctrl+q does: the run stops and is stored, the engine process ends, the terminal
        # is restored; the exit code says which signal it was.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                loop.add_signal_handler(sig, self.exit, None, 128 + sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread, or not a POSIX system

    def _first_screen(self) -> Screen[None]:
        """The compare view, a sweep or seeds view for such a directory, else the lab (on a
        saved run, or empty)."""
        from actlab.engine.config import ConfigError
        from actlab.engine.results import ResultsError

        from .screens.saved import SavedSweep, load_saved

        if self.compare_runs is not None:
            from .screens.compare_view import CompareScreen

            return CompareScreen(self.compare_runs)
        opened = self.opened
        if opened is None and self.open_dir:
            try:
                opened = load_saved(self.open_dir)
            except (ResultsError, ConfigError) as exc:
                self.failure = "open"
                self.notify(str(exc), title="Cannot show that directory", severity="error", timeout=15)
                return LabScreen(self.config, None, self.runs_root, self.save_runs, self.threads)
        if isinstance(opened, SavedSweep):
            from .screens.sweep import SweepScreen

            return SweepScreen(opened)
        if opened is not None:
            from .screens.seeds import SeedsScreen

            return SeedsScreen(opened)
        return LabScreen(self.config, self.open_dir, self.runs_root, self.save_runs, self.threads)

    @property
    def exit_code(self) -> int:
        """The process's exit code: the app's own (1 after a crash), else 1 if the last run
        failed and 2 if a saved run could not be read."""
        if self.return_code:
            return self.return_code
        return 0 if self.failure is None else (2 if self.failure == "open" else 1)


def create_app(
    config: RunConfig | None = None,
    open_dir: str | None = None,
    *,
    runs_root: str | Path | None = None,
    save_runs: bool = True,
    threads: int | str | None = None,
    served: bool = False,
    opened: Saved | None = None,
    compare_runs: list[SavedRun] | None = None,
) -> ActlabApp:
    """The one way to build the app, for the command line and the tests alike.

    config: the settings the form starts from (and Reset returns to).
    open_dir: a saved run directory to show instead of an empty lab; a sweep or seeds
        directory opens its own view (`screens.sweep`, `screens.seeds`).
    runs_root: where runs started in the app are saved (default: ./actlab-runs/<time>).
    save_runs: False keeps runs in memory only (tests).
    threads: PyTorch CPU threads of the engine process: a count, "auto" (tuned), or None
        (PyTorch's default, fixed).
    served: a browser session of `actlab-tui serve`: the form cannot change the data and
        cache folders.
    opened: open_dir's sweep or seeds directory, already read (`screens.saved.load_saved`).
    compare_runs: saved runs to show in the compare view (`actlab-tui compare --app`).
    """
    return ActlabApp(
        config=config,
        open_dir=open_dir,
        runs_root=runs_root,
        save_runs=save_runs,
        threads=threads,
        served=served,
        opened=opened,
        compare_runs=compare_runs,
    )
