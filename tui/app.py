"""The actlab app: keeps its inputs and pushes the lab screen; layout lives in app.tcss."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from actlab.engine.config import RunConfig
from textual.app import App
from textual.binding import Binding, BindingType

from .commands import LabCommands
from .screens.lab import LabScreen

if TYPE_CHECKING:
    from actlab.engine.experiments.compare import SavedRun
    from actlab.engine.experiments.opened import Collection
    from textual.screen import Screen

    from .hangup import TerminalGuard


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
        opened: Collection | None = None,
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
        self._guard_loop: asyncio.AbstractEventLoop | None = None  # for the terminal guard's thread
        self.ended_by: int | None = None  # 128 + the signal that ended the app (129: hangup)
        self._guard: TerminalGuard | None = None  # while `run` runs

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """`App.run` (its return value too, which snapshot tests read), guarded: a terminal
        closing (an SSH session dropping) or a job manager's TERM or HUP ends the app the way
        ctrl+q does (the run stops and is stored, the engine process ends, the terminal is
        restored; the exit code is 128 + the signal, 129 for a hangup), and within 5 s even
        when the event loop is stuck (`hangup`)."""
        from . import engine_process
        from .hangup import TerminalGuard

        guard = TerminalGuard(
            self._exit_from_thread,
            engine_process.stop_all,
            engine_process.end_all,
            lambda: getattr(getattr(self, "_driver", None), "attrs_before", None),
        )
        guard.arm()
        self._guard = guard
        try:
            return super().run(*args, **kwargs)
        finally:
            self.ended_by = guard.code
            self._guard = None
            guard.disarm()

    def _exit_from_thread(self, code: int) -> bool:
        """Ask the app to exit with `code` from another thread; False when its loop is not
        running (not started yet, or already closed)."""
        loop = self._guard_loop
        if loop is None or loop.is_closed():
            return False
        try:
            loop.call_soon_threadsafe(self.exit, None, code)
        except RuntimeError:
            return False
        return True

    def on_mount(self) -> None:
        self._guard_loop = asyncio.get_running_loop()
        if self._guard is not None:
            self._guard.reclaim_signals()  # the driver, started by now, may have taken them
        self.push_screen(self._first_screen())

    def _first_screen(self) -> Screen[None]:
        """The compare view, a sweep or seeds view for such a directory, else the lab (on a
        saved run, or empty)."""
        from actlab.engine.config import ConfigError
        from actlab.engine.experiments.opened import OpenedSweep
        from actlab.engine.experiments.saved import load_saved
        from actlab.engine.experiments.store import ResultsError

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
        if isinstance(opened, OpenedSweep):
            from .screens.sweep import SweepScreen

            return SweepScreen(opened)
        if opened is not None:
            from .screens.seeds import SeedsScreen

            return SeedsScreen(opened)
        return LabScreen(self.config, self.open_dir, self.runs_root, self.save_runs, self.threads)

    @property
    def exit_code(self) -> int:
        """The process's exit code: 128 + the signal that ended it (129 when its terminal
        closed: Textual may also report the dead terminal as a crash), else the app's own (1
        after a crash), else 1 if the last run failed and 2 if a saved run could not be read."""
        if self.ended_by is not None:
            return self.ended_by
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
    opened: Collection | None = None,
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
    opened: open_dir's sweep or seeds directory, already read (`experiments.saved.load_saved`).
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
