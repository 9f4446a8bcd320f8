"""The lab: settings on the left, live views of the comparison on the right, status below.

The screen shows one run at a time and takes its events from one kind of source, whatever
it is: the engine process (`RunHost`) for a run started here, or a saved run read (and
followed, while another process still writes it) by `follow`. Either posts `EngineEvents`,
`RunProgress` and finally `SourceEnded`. Events go to the views (widgets with
`feed_event(event)` and optionally `clear_view()`, found in the screen once it is composed, and
the diagnostics tabs before they are first shown), which only mark themselves stale; one timer
paints what is stale and on view (`widgets.pacing`). The screen keeps no event itself: each view
keeps what it shows, bounded, so a run followed for hours costs no more memory than one of minutes.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from pathlib import Path
from typing import Any

from actlab.engine.config import ConfigError, RunConfig
from actlab.engine.events import Event, Progress, RunFinished, RunStarted
from actlab.engine.experiments.engine_messages import RunEnded, RunEvents
from actlab.engine.experiments.store import default_run_dir
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, TabbedContent, TabPane

from ..engine_process import RunHost
from ..follow import follow
from ..messages import EngineEvents, RunProgress, SettingsChanged, SourceEnded, SourceFollowing
from ..state import Phase, RunStatus
from ..widgets.charts import AccuracyChart, LossChart
from ..widgets.controls import ControlsPanel
from ..widgets.diagnostics import diagnostics_tabs
from ..widgets.footer import KeyFooter
from ..widgets.legend import MemberLegend
from ..widgets.pacing import TICK_S, Paced, pace, paced_views
from ..widgets.preview import ComparisonPreview
from ..widgets.status import StatusLine
from ..widgets.table import ThresholdTable
from .help import HelpScreen
from .lab_members import MemberEditing

FINISHED_PHASE = {"done": Phase.DONE, "stopped": Phase.STOPPED, "error": Phase.FAILED}


def display_path(path: str | Path) -> str:
    """A run folder as the user would type it: relative to here when it is below here."""
    rel = os.path.relpath(os.path.abspath(path))
    return str(path) if rel.startswith("..") else rel


class LabScreen(MemberEditing, Screen[None]):
    """Pick a comparison, run it, watch it; or look at a saved one."""

    WIDE_AT = 120  # columns from which the settings and the results fit side by side
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE_AT, "-wide")]

    # ctrl keys with priority, so they work while typing in the form too.
    BINDINGS = [
        Binding(
            "ctrl+s",
            "start",
            "Start",
            priority=True,
            tooltip="Train the members with the settings shown (restarts a running comparison).",
        ),
        Binding("ctrl+t", "pause", "Pause", priority=True, tooltip="Pause training; the figures stay."),
        Binding("ctrl+t", "resume", "Resume", priority=True, tooltip="Go on training."),
        # ctrl+g as in "give up" (emacs' cancel): ctrl+x and ctrl+c are cut and copy in the form
        Binding(
            "ctrl+g",
            "stop",
            "Stop",
            priority=True,
            tooltip="Stop training; results so far are kept and saved.",
        ),
        Binding(
            "ctrl+n",
            "reset",
            "Reset",
            priority=True,
            tooltip="Stop, clear the results and put the settings back as they were at launch.",
        ),
        Binding(
            "ctrl+b", "toggle_controls", "Settings", priority=True, tooltip="Hide or show the settings panel."
        ),
        Binding(
            "question_mark,f1",
            "help",
            "Help",
            key_display="?",
            priority=True,
            tooltip="What each panel shows and what the words mean.",
        ),
    ]

    phase: reactive[Phase] = reactive(Phase.IDLE)

    def __init__(
        self,
        config: RunConfig,
        open_dir: str | None = None,
        runs_root: str | Path | None = None,
        save_runs: bool = True,
        threads: int | str | None = None,
    ) -> None:
        super().__init__()
        self.initial_config = config
        self.open_dir = open_dir
        self.runs_root = Path(runs_root) if runs_root is not None else None
        self.save_runs = save_runs
        if threads is None and "torch" in sys.modules:  # a host process that set its own (tests)
            threads = sys.modules["torch"].get_num_threads()
        self.host = RunHost(self._from_host, threads)
        self.run_id = 0  # the run shown; messages of any other run are stale and ignored
        self.training: int | None = None  # the run sent to the engine and not yet ended
        self._follow_stop = threading.Event()  # ends the saved run being read, if any
        self._leaving = threading.Event()  # the screen is going: checks still running are killed
        self.status = RunStatus()
        self.events_shown = 0  # events of the run shown, fed to the views
        self.last_event: Event | None = None  # the latest of them
        self.form_config: RunConfig | None = config
        self.form_errors: dict[str, str] = {}
        self._hid_controls = False  # the settings were hidden for a run, to come back after it
        self._offered: tuple[bool | None, ...] = ()  # check_action of the phase-dependent keys
        self._views: list[Paced] = []
        self._sinks: list[Any] = []
        self._unmounted: dict[str, Widget] = {}  # tab id -> its view, until first shown

    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            yield ControlsPanel(self.initial_config, id="controls")
            with Vertical(id="results"):
                yield MemberLegend(id="legend")
                with TabbedContent(id="views"):
                    with TabPane("Accuracy", id="tab-accuracy"):
                        yield ComparisonPreview(self.initial_config.activations, id="preview")
                        yield AccuracyChart(id="accuracy")
                    with TabPane("Loss", id="tab-loss"):
                        yield LossChart(id="loss")
                    # the diagnostics views join their tabs when first shown (composing
                    # them all at start delays the first frame); they are fed meanwhile
                    for n, (title, widget) in enumerate(diagnostics_tabs()):
                        yield TabPane(title, id=f"tab-extra-{n}")
                        self._unmounted[f"tab-extra-{n}"] = widget
                yield ThresholdTable(id="table")
        yield StatusLine(id="status")
        yield KeyFooter()

    def on_mount(self) -> None:
        self._preview(not self.open_dir)
        self._find_views()
        self._show_status()
        # What exists once the screen is up lives as long as the app: set aside from Python's
        # full collections (gc.freeze), which otherwise walk it all on the UI thread.
        self.call_after_refresh(gc.freeze)
        self.set_interval(TICK_S, self._pace)
        if self.open_dir:
            self.open_run(self.open_dir)
        else:
            # PyTorch loads in the engine process while the user reads the form; started after
            # the first frame, which it would otherwise compete with for the CPU
            self.call_after_refresh(self.host.warm_up)

    def on_resize(self, event: events.Resize) -> None:
        # every key must fit in 80 columns, "Resume" included
        self.query_one(Footer).compact = event.size.width < self.WIDE_AT

    def on_unmount(self) -> None:
        gc.unfreeze()  # what the screen leaves behind can be collected again
        self._follow_stop.set()
        self._leaving.set()  # a check helper still running (a function that hangs) is killed
        self.host.close()  # a run still going stops and is stored before the engine ends

    def _pace(self, force: bool = False) -> None:
        pace(self._views, force)

    # --- the hook for views ---------------------------------------------------------------------

    def _find_views(self) -> None:
        """The widgets that take `feed_event` (outermost only: they feed their own children),
        and the ones the pacer paints; found once, and again when a tab is added."""
        sinks: list[Any] = []

        def visit(node: Widget) -> None:
            for child in node.children:
                if callable(getattr(child, "feed_event", None)):
                    sinks.append(child)
                elif isinstance(child, Widget):
                    visit(child)

        visit(self)
        self._sinks, self._views = sinks + list(self._unmounted.values()), paced_views(self)

    @on(TabbedContent.TabActivated)
    async def _mount_view(self, event: TabbedContent.TabActivated) -> None:
        widget = self._unmounted.pop(event.pane.id or "", None)
        if widget is not None:
            await event.pane.mount(widget)  # it draws what it was fed on mount
            self._find_views()

    def _forward(self, events: list[Event]) -> None:
        for event in events:
            self.status.feed(event)
            for sink in self._sinks:
                sink.feed_event(event)
        if events:
            self.events_shown += len(events)
            self.last_event = events[-1]
        self.query_one(StatusLine).mark_stale()

    def _preview(self, shown: bool) -> None:
        """Before any run, the Accuracy tab shows what will be compared instead of axes."""
        self.query_one(ComparisonPreview).display = shown
        self.query_one(AccuracyChart).display = not shown

    def _clear_views(self) -> None:
        self.events_shown, self.last_event = 0, None
        for sink in self._sinks:
            clear = getattr(sink, "clear_view", None)
            if callable(clear):
                clear()
        self._pace(force=True)

    # --- status -----------------------------------------------------------------------------------

    def _show_status(self) -> None:
        self.status.phase = self.phase
        self.query_one(StatusLine).show(self.status)

    def watch_phase(self, phase: Phase) -> None:
        controls = self.query_one(ControlsPanel)
        # Locking restyles every field (a tenth of a second of the UI's time): done only when
        # the form is on screen; ctrl+b locks it before it shows.
        controls.locked = phase.active and bool(controls.display)
        if not phase.active and self._hid_controls:
            self._hid_controls = False
            if self.app.size.width >= self.WIDE_AT:
                controls.display = True  # the run is over: the settings are back for the next
        # The footer rebuilds itself on every refresh_bindings (a layout pass): only when the
        # keys on offer change (not from loading to training, say).
        offered = tuple(self.check_action(a, ()) for a in ("pause", "resume", "stop"))
        if offered != self._offered:
            self._offered = offered
            self.refresh_bindings()
        self._show_status()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        running = self.phase in (Phase.LOADING, Phase.TRAINING)
        if action == "pause":
            return False if self.phase == Phase.PAUSED else (True if running else None)
        if action == "resume":
            return self.phase == Phase.PAUSED
        if action == "stop":
            return True if self.phase.active and self.phase != Phase.STOPPING else None
        return True

    # --- actions ----------------------------------------------------------------------------------

    def action_start(self) -> None:
        config = self.form_config
        if config is None:
            reason = next(iter(self.form_errors.values()), "the settings are not valid")
            self.notify(f"Not started: {reason}", title="Fix the settings first", severity="error")
            return
        refused = self._refused_in_browser(config)
        if refused:
            self.notify(
                f"Not started: activation {refused!r}: a served lab runs only the activations the server "
                "was started with or that installed packages register",
                severity="error",
            )
            return
        try:
            run_dir = self._new_run_dir() if self.save_runs else None
        except OSError as exc:
            self.notify(f"Not started: cannot make a run folder ({exc})", severity="error")
            return
        self._new_source()
        self._clear_views()
        self._preview(False)
        self.query_one(MemberLegend).prepare(config)
        self.query_one(ThresholdTable).prepare(config)
        self._make_room(training=True)
        self.status = RunStatus(run_dir=display_path(run_dir) if run_dir else None)
        self.phase = Phase.LOADING
        self.training = self.run_id
        self.host.start(self.run_id, config, str(run_dir) if run_dir else None)

    def action_pause(self) -> None:
        if self.training is not None:
            self.host.pause(self.training)
            self.phase = Phase.PAUSED

    def action_resume(self) -> None:
        if self.training is not None:
            self.host.resume(self.training)
            self.phase = Phase.TRAINING if self.status.total_iterations else Phase.LOADING

    def action_stop(self) -> None:
        if self.training is not None and self.phase.active:
            self.host.stop(self.training)
            self.phase = Phase.STOPPING

    def action_reset(self) -> None:
        self._new_source()
        self._clear_views()
        self._preview(True)
        self.status = RunStatus()
        self.phase = Phase.IDLE
        self.query_one(ControlsPanel).set_config(self.initial_config)

    def action_toggle_controls(self) -> None:
        controls = self.query_one(ControlsPanel)
        self._hid_controls = False  # the user decides from here on
        if not controls.display:
            controls.locked = self.phase.active
        controls.display = not controls.display

    def _make_room(self, training: bool = False) -> None:
        """The results get the whole width while a run trains (at any size: a layout pass
        over the form costs the UI several times more than one without it), and while a run
        is shown on a narrow terminal. The settings are locked meanwhile anyway; ctrl+b brings
        them back, and a wide terminal gets them back when the run ends."""
        controls = self.query_one(ControlsPanel)
        if controls.display and (training or self.app.size.width < self.WIDE_AT):
            controls.display = False
            self._hid_controls = training

    def action_help(self) -> None:
        # built once and kept: opening it again costs a repaint, not a rebuild
        if not self.app.is_screen_installed("help"):
            self.app.install_screen(HelpScreen(), "help")
        self.app.push_screen("help")

    def _new_source(self) -> None:
        """Leave whatever feeds the views now (a run, a saved run being read): whatever it
        still sends is stale from here on."""
        if self.training is not None:
            self.host.stop(self.training)
            self.training = None
        self._follow_stop.set()
        self.run_id += 1

    def _new_run_dir(self) -> Path:
        """A fresh folder under the runs root, made now so that two runs started within the
        same second never get the same one."""
        while True:
            path = default_run_dir(self.runs_root) if self.runs_root is not None else default_run_dir()
            try:
                path.mkdir(parents=True)
                return path
            except FileExistsError:
                continue

    # --- sources -------------------------------------------------------------------------------

    def open_run(self, directory: str) -> None:
        """Show a saved run; one that another process still writes is followed live."""
        self._new_source()
        self._clear_views()
        self._preview(False)
        self._make_room()
        self.status = RunStatus(run_dir=display_path(directory), replayed=True)
        self.phase = Phase.REPLAY
        self._follow_stop = threading.Event()
        self._follow(directory, self.run_id, self._follow_stop)

    @work(thread=True, group="follow")
    def _follow(self, directory: str, run_id: int, stop: threading.Event) -> None:
        follow(directory, run_id, self.post_message, stop)

    def _from_host(self, message: RunEvents | RunEnded) -> None:
        """On the host's reader thread: what the engine sent, as the screen's messages."""
        if isinstance(message, RunEnded):
            self.post_message(SourceEnded(message.run_id, message.error, message.summary))
            return
        if message.events:
            self.post_message(EngineEvents(message.run_id, message.events))
        p = message.progress
        if p is not None:
            self.post_message(RunProgress(message.run_id, p.iteration, p.epoch, p.elapsed_s))

    # --- messages -------------------------------------------------------------------------------

    @on(EngineEvents)
    def _engine_events(self, message: EngineEvents) -> None:
        if message.run_id != self.run_id:
            return
        self._forward(message.events)
        for event in message.events:
            if isinstance(event, RunStarted):
                if self.phase == Phase.REPLAY:
                    self._show_saved_settings(event)
                elif self.phase == Phase.LOADING:
                    self.phase = Phase.TRAINING
            elif isinstance(event, RunFinished) and self.phase != Phase.REPLAY:
                self.phase = FINISHED_PHASE.get(event.status, Phase.DONE)
        if any(isinstance(e, (RunStarted, RunFinished)) for e in message.events):
            self._pace(force=True)  # a run's start and end show at once

    @on(RunProgress)
    def _progress(self, message: RunProgress) -> None:
        if message.run_id == self.run_id:
            self.status.feed(Progress(message.iteration, message.epoch, message.elapsed_s))
            self.query_one(StatusLine).mark_stale()

    @on(SourceFollowing)
    def _following(self, message: SourceFollowing) -> None:
        if message.run_id == self.run_id:
            self.status.following = True
            self._show_status()

    @on(SourceEnded)
    def _source_ended(self, message: SourceEnded) -> None:
        if message.run_id == self.training:
            self.training = None
        if message.run_id != self.run_id:
            return
        if message.error is not None:
            replayed = self.phase == Phase.REPLAY
            title = "Cannot show that run" if replayed else "Training failed"
            self.notify(message.error, title=title, severity="error", timeout=15)
            self.app.failure = "open" if replayed else "run"  # type: ignore[attr-defined]
            self.status.error = message.error
            self.phase = Phase.FAILED
        elif self.phase == Phase.REPLAY:
            if not isinstance(self.last_event, RunFinished):
                # no run_finished, and no writer any more: it was killed, not still running
                self.status.interrupted = True
                self.query_one(ThresholdTable).end_of_stream()
            self.phase = Phase.SAVED
        elif self.phase.active:
            # it ended without a RunFinished: stopped before training began
            self.phase = Phase.STOPPED if self.status.total_iterations else Phase.IDLE
        self._pace(force=True)

    @on(SettingsChanged)
    def _settings_changed(self, message: SettingsChanged) -> None:
        self.form_config, self.form_errors = message.config, message.errors
        if message.config is not None and self.phase == Phase.IDLE:
            self.query_one(ComparisonPreview).show(message.config.activations)

    def _show_saved_settings(self, event: RunStarted) -> None:
        """Put a saved run's settings in the form, so Start runs it again."""
        try:
            config = RunConfig.from_dict(dict(event.config))
        except (ConfigError, TypeError):
            self.notify("This run's settings are from another version; the form keeps its own.")
            return
        self.query_one(ControlsPanel).set_config(config)
