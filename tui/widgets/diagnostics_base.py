"""What the diagnostics views share: member colours, chart helpers and the redraw throttle.

Each view owns (or shares) a `DiagnosticsHistory`, takes engine events through
`feed_event`, and redraws at most `MIN_REDRAW_INTERVAL` apart: the training thread shares the
interpreter with the UI, and plotext takes tens of milliseconds to build a busy chart.
Charts build their data inside `render`, at the size they are given, so a hidden tab costs
nothing and every series is decimated to the canvas width.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from actlab.engine.events import Event, RunFinished, RunStarted
from rich.text import Text
from textual import events
from textual.app import ComposeResult, RenderResult
from textual.containers import Container
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Select, Static
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

from ..palette import THRESHOLD_COLOR, rgb
from .diagnostics_history import DiagnosticsHistory
from .throttle import hidden

REFERENCE_COLOR = THRESHOLD_COLOR  # reference lines (theory, thresholds)
HISTOGRAM_COLOR = "#5b6070"  # bars behind curves: visible, but quieter than the data
WIDE_AT = 120  # columns from which a view puts its charts side by side

MIN_REDRAW_INTERVAL = 0.25  # seconds: at most four redraws a second while training


def tint(color: str, amount: float = 0.55) -> tuple[int, int, int]:
    """`color` blended toward white: a second line of the same member (f' next to f)."""
    r, g, b = rgb(color)
    return tuple(round(c + (255 - c) * amount) for c in (r, g, b))  # type: ignore[return-value]


def layer_color(layer: int, depth: int) -> tuple[int, int, int]:
    """Layers from the input side (cool blue) to the output side (warm orange)."""
    t = 0.0 if depth <= 1 else layer / (depth - 1)
    cold, warm = (80, 150, 255), (255, 160, 50)
    return tuple(round(a + (b - a) * t) for a, b in zip(cold, warm, strict=True))  # type: ignore[return-value]


def swatch(color: str | tuple[int, int, int], label: str, mark: str = "━━") -> Text:
    """A legend entry: a coloured mark and its label."""
    style = color if isinstance(color, str) else "rgb({},{},{})".format(*color)
    return Text.assemble((mark, style), " ", label)


def legend(*entries: Text | str, sep: str = "  ") -> Text:
    out = Text()
    for i, e in enumerate(entries):
        if i:
            out.append(sep)
        out.append(e if isinstance(e, Text) else Text(e, style="dim"))
    return out


def set_select(select: Select[Any], options: list[tuple[str, Any]], value: Any) -> None:
    """Replace a Select's options and choose `value` (or the first option if it is gone)."""
    select.set_options(options)
    legal = [v for _, v in options]
    select.value = value if value in legal else legal[0]
    # Select updates its label only when the value changes; same value, new options: force it
    select.mutate_reactive(Select.value)  # type: ignore[misc]


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def sci(value: float | None) -> str:
    return "-" if value is None else f"{value:.2e}"


def present(xs: Sequence[int], ys: Sequence[float | None]) -> tuple[list[int], list[float]]:
    """The (x, y) pairs whose y is a finite number."""
    px, py = [], []
    for x, y in zip(xs, ys, strict=False):
        if y is not None and math.isfinite(y):
            px.append(x)
            py.append(y)
    return px, py


def decimate(xs: Sequence[Any], ys: Sequence[Any], max_points: int) -> tuple[list[Any], list[Any]]:
    """At most `max_points` evenly spaced pairs, always keeping the first and the latest."""
    n = len(xs)
    if max_points < 2 or n <= max_points:
        return list(xs), list(ys)
    step = (n - 1) / (max_points - 1)
    idx = sorted({round(i * step) for i in range(max_points)})
    return [xs[i] for i in idx], [ys[i] for i in idx]


def log_points(xs: Sequence[Any], ys: Sequence[float | None]) -> tuple[list[Any], list[float], int]:
    """(xs, log10 ys) of the positive values, and how many values were not positive.

    Charts plot log10 on a linear axis with their own decade ticks: plotext's log axis labels
    ticks with six decimals, unreadable for norms around 1e-5."""
    px, py, dropped = [], [], 0
    for x, y in zip(xs, ys, strict=False):
        if y is None or not math.isfinite(y):
            continue
        if y <= 0:
            dropped += 1
            continue
        px.append(x)
        py.append(math.log10(y))
    return px, py, dropped


def decade_axis(plt: Plot, logs: Sequence[float], height: int) -> None:
    """Y limits just around `logs` (log10 values) and ticks on round numbers: decades
    (1e-5, 1e-4, ...) when the data span two or more of them, else 1, 2, 5 steps."""
    if not logs:
        return
    lo, hi = min(logs), max(logs)
    pad = max(0.05, 0.05 * (hi - lo))
    lo, hi = lo - pad, hi + pad
    most = max(2, (height - 4) // 2)  # one tick per two rows at most, so labels never crowd
    decades = [e for e in range(math.floor(lo), math.ceil(hi) + 1) if lo <= e <= hi]
    if len(decades) >= 2:
        step = math.ceil(len(decades) / most)
        ticks = [(float(e), "1" if e == 0 else f"1e{e}") for e in decades[::step]]
    else:
        ticks = [
            (e + math.log10(m), _log_label(m, e))
            for e in range(math.floor(lo) - 1, math.ceil(hi) + 1)
            for m in (1, 2, 5)
            if lo <= e + math.log10(m) <= hi
        ]
        ticks = ticks[:: math.ceil(len(ticks) / most)] if ticks else ticks
    plt.ylim(lo, hi)
    if ticks:
        plt.yticks([t for t, _ in ticks], [label for _, label in ticks])


def _log_label(mantissa: int, exponent: int) -> str:
    """mantissa * 10**exponent, short: 0.05, 1, 20 near one; 1e-5, 2e4 further out."""
    if -2 <= exponent <= 3:
        return f"{mantissa * 10.0**exponent:g}"
    return f"{mantissa}e{exponent}"


def iteration_axis(plt: Plot, iterations: Sequence[int], width: int) -> None:
    """X ticks on round iteration numbers (plotext's own would read 27.5)."""
    if not iterations:
        return
    lo, hi = min(iterations), max(iterations)
    if hi == lo:
        plt.xticks([float(lo)], [str(lo)])
        return
    most = max(2, width // 10)  # a label needs about ten columns
    step = 1
    for k in range(12):
        step = next((s * 10**k for s in (1, 2, 5) if (hi - lo) / (s * 10**k) <= most), 0)
        if step:
            break
    first = -(-lo // step) * step
    ticks = list(range(first, hi + 1, step))
    plt.xlim(lo, hi)
    plt.xticks([float(t) for t in ticks], [str(t) for t in ticks])


class Chart(PlotextPlot):
    """A plot whose owner paints it at render time, at the canvas size it is given."""

    DEFAULT_CSS = """
    Chart {
        height: 1fr;
        width: 1fr;
        min-height: 6;
    }
    """

    def __init__(self, painter: Callable[[Plot, int, int], None], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.painter = painter

    def render(self) -> RenderResult:
        plt = self.plt
        plt.clear_figure()
        plt.plotsize(self.size.width, self.size.height)
        self.painter(plt, self.size.width, self.size.height)
        return super().render()


class DiagnosticsView(Widget):
    """Base of the diagnostics views: event feeding, throttled redraws, empty states."""

    min_redraw_interval: float = MIN_REDRAW_INTERVAL  # per instance, so a test can widen it

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
        self._last_draw = -math.inf
        self._timer: Timer | None = None

    # -- composition: a message for empty states, and the view's own body --------------

    def compose(self) -> ComposeResult:
        yield Static("", classes="diag-message")
        with Container(classes="diag-body"):
            yield from self.compose_body()

    def compose_body(self) -> ComposeResult:
        yield from ()

    # -- the integration API ---------------------------------------------------------

    def feed_event(self, event: Event) -> None:
        """Take one engine event (live or replayed); redraw soon if it changed anything."""
        self.history.feed(event)
        if self.history.version == self._drawn_version:
            return  # nothing new for this view (a shared history fed by another view too)
        if isinstance(event, (RunStarted, RunFinished)):
            self.redraw()  # rare events that change the layout or end the stream: show now
        else:
            self.request_redraw()

    def request_redraw(self) -> None:
        """Redraw now, or as soon as the throttle allows."""
        if not self.is_mounted:
            return  # on_mount draws whatever has been fed by then
        wait = self.min_redraw_interval - (time.monotonic() - self._last_draw)
        if wait <= 0:
            self.redraw()
        elif self._timer is None:
            self._timer = self.set_timer(wait, self._timer_fired)

    def _timer_fired(self) -> None:
        self._timer = None
        if self.history.version != self._drawn_version:
            self.redraw()

    def on_show(self) -> None:
        # the tab came into view: catch up with what was fed while hidden
        if self.history.version != self._drawn_version:
            self.redraw()

    def redraw(self) -> None:
        """Bring the view up to date with its history, at once (later, if hidden)."""
        if not self.is_mounted or hidden(self):
            return
        self._drawn_version = self.history.version
        self._last_draw = time.monotonic()
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
