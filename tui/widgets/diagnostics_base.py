"""What the diagnostics views share: the base view, its empty states and its layout.

Each view owns (or shares) a `DiagnosticsHistory` and takes engine events through
`feed_event`; the screen's pacer paints it (see `pacing`), or `redraw()` paints it at once.
Its charts build their data when they render, at the size they are given.
"""

from __future__ import annotations

from actlab.engine.events import Event
from textual import events
from textual.app import ComposeResult
from textual.containers import Container
from textual.widget import Widget
from textual.widgets import Static

from ..palette import THRESHOLD_COLOR
from .chart import Chart
from .diagnostics_history import DiagnosticsHistory
from .format import hidden
from .pacing import Paced

REFERENCE_COLOR = THRESHOLD_COLOR  # reference lines (theory, thresholds)
HISTOGRAM_COLOR = "#5b6070"  # bars behind curves: visible, but quieter than the data
WIDE_AT = 120  # columns from which a view puts its charts side by side


class DiagnosticsView(Paced, Widget):
    """Base of the diagnostics views: event feeding, paced paints, empty states."""

    pace_s = 0.25

    DEFAULT_CSS = """
    DiagnosticsView {
        height: 1fr;
        width: 1fr;
        layout: vertical;
    }
    DiagnosticsView > .diag-message {
        width: 1fr;
        height: 1fr;
        content-align: center middle;
        text-align: center;
        color: $text-muted;
        padding: 1 2;
    }
    DiagnosticsView > .diag-body {
        height: 1fr;
        width: 1fr;
    }
    /* charts stacked on a narrow terminal, side by side from WIDE_AT columns */
    DiagnosticsView .diag-charts {
        layout: vertical;
        height: 1fr;
    }
    DiagnosticsView.-wide .diag-charts {
        layout: horizontal;
    }
    DiagnosticsView .diag-legend {
        height: auto;
        width: 1fr;
        padding: 0 1;
    }
    DiagnosticsView .diag-controls {
        height: 1;
        width: 1fr;
        layout: horizontal;
    }
    DiagnosticsView .diag-controls > Static {
        width: auto;
        padding: 0 1;
    }
    DiagnosticsView .diag-controls > Select {
        width: 24;
        margin-right: 1;
    }
    """

    def __init__(
        self,
        history: DiagnosticsHistory | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.history = history if history is not None else DiagnosticsHistory()
        self._drawn_version = -1

    # -- composition: a message for empty states, and the view's own body --------------

    def compose(self) -> ComposeResult:
        yield Static("", classes="diag-message")
        with Container(classes="diag-body"):
            yield from self.compose_body()

    def compose_body(self) -> ComposeResult:
        yield from ()

    # -- the integration API ---------------------------------------------------------

    def feed_event(self, event: Event) -> None:
        """Take one engine event (live or replayed); it is painted at the next pace."""
        self.history.feed(event)
        if self.history.version != self._drawn_version:
            self.mark_stale()  # a shared history fed by another view may hold nothing new

    def paint(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        """Bring the view up to date with its history, at once (later, if hidden)."""
        if not self.is_mounted or hidden(self):
            self.mark_stale()  # painted when shown
            return
        self.stale = False
        self._drawn_version = self.history.version
        message = self.empty_message()
        self.query_one(".diag-message", Static).update(message or "")
        self.query_one(".diag-message").display = message is not None
        self.query_one(".diag-body").display = message is None
        if message is None:
            self.update_body()

    def empty_message(self) -> str | None:
        """Why there is nothing to show, or None when there is."""
        h = self.history
        if h.run is None and not h.members:
            return "No run yet: start one, or open a saved run, to see its diagnostics here."
        if h.run is not None and h.run.diagnostics_every <= 0:
            return "Diagnostics are off for this run (--diagnostics-every 0)."
        if not h.iterations:
            every = h.run.diagnostics_every if h.run is not None else "?"
            return f"Waiting for the first diagnostics (every {every} iterations)."
        return None

    def update_body(self) -> None:
        """Update controls and legends, and refresh the charts (which paint when rendered)."""
        for chart in self.query(Chart):
            chart.refresh()

    # -- lifecycle ---------------------------------------------------------------------

    def on_mount(self) -> None:
        self.redraw()

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width >= WIDE_AT, "-wide")
