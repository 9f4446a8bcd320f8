"""Live line charts of a comparison: test accuracy and training loss against iteration.

One line per member in its palette colour. The data are kept whole; `render` picks at most
two points per column of the canvas (braille dots are two wide), so a chart costs the same
after a hundred epochs as after one, and a chart in a hidden tab costs nothing.
"""

from __future__ import annotations

import math
import time

from actlab.engine.events import Evaluation, Event, MemberDiverged, RunFinished, RunStarted
from rich.text import Text
from textual.app import RenderResult
from textual.geometry import Region
from textual.strip import Strip
from textual_plotext import PlotextPlot

from ..palette import THRESHOLD_COLOR, member_color, rgb
from .throttle import RedrawThrottle, hidden

Y_AXIS_COLUMNS = 8  # about what plotext takes for the y labels and frame


def decimate(xs: list[int], ys: list[float], max_points: int) -> tuple[list[int], list[float]]:
    """At most `max_points` evenly spaced points, always keeping the last one."""
    n = len(xs)
    if n <= max_points or max_points < 2:
        return xs, ys
    step = (n - 1) / (max_points - 1)
    idx = sorted({round(i * step) for i in range(max_points)})
    return [xs[i] for i in idx], [ys[i] for i in idx]


def iteration_ticks(total: int, count: int = 5) -> list[int]:
    """Whole-number ticks from 0 to `total` at a round step (iterations are counted, not measured)."""
    if total <= 0:
        return [0]
    raw = total / count
    magnitude = 10 ** max(0, len(str(int(raw))) - 1)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return list(range(0, total + 1, step))


class MemberChart(PlotextPlot):
    """A chart with one series per member, fed engine events (see `feed_event`)."""

    DEFAULT_CSS = """
    MemberChart {
        height: 1fr;
        min-height: 8;
    }
    """

    empty_text = "No run yet: set up a comparison on the left and press ctrl+s to start."
    x_label = "iteration"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.members: list[str] = []
        self.total_iterations = 0
        self.thresholds: list[float] = []
        self.xs: list[list[int]] = []
        self.ys: list[list[float]] = []
        self.diverged_at: list[int | None] = []
        self.throttle = RedrawThrottle(self, self._redraw)
        self._stale = False  # data came in while hidden

    # --- the hook: the screen forwards every engine event of the run shown ------------------

    def feed_event(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.members = list(event.members)
            self.total_iterations = event.total_iterations
            self.thresholds = [float(t) for t in event.config.get("thresholds", [])]
            self.xs = [[] for _ in self.members]
            self.ys = [[] for _ in self.members]
            self.diverged_at = [None for _ in self.members]
            self.throttle.request()  # at once, unless the chart was drawn a moment ago
        elif isinstance(event, Evaluation):
            for m, value in enumerate(self.values(event)):
                if value is not None and m < len(self.xs):
                    self.xs[m].append(event.iteration)
                    self.ys[m].append(value)
            self.throttle.request()
        elif isinstance(event, MemberDiverged):
            if event.member < len(self.diverged_at):
                self.diverged_at[event.member] = event.iteration
            self.throttle.request()
        elif isinstance(event, RunFinished):
            self.throttle.request(now=True)

    def _redraw(self) -> None:
        if hidden(self):
            self._stale = True  # drawn when its tab comes into view
            return
        self._stale = False
        self.refresh()  # the plot is built in render(), at the size the widget has then

    def on_show(self) -> None:
        # The tab's own frame first, with the chart as it was last drawn (Textual serves it
        # from its cache); the points that came in meanwhile one frame later. Redrawing in
        # the same frame made the tab switch wait 20-30 ms more for plotext (at 160x48).
        if self._stale:
            self._stale = False
            self.call_after_refresh(self.refresh)

    def clear_view(self) -> None:
        self.members = []
        self.xs, self.ys, self.diverged_at = [], [], []
        self.throttle.request(now=True)

    # --- what each chart plots ---------------------------------------------------------------

    def values(self, event: Evaluation) -> list[float | None]:
        raise NotImplementedError

    def decorate(self) -> None:
        """Axes, scale and reference lines of this chart."""

    def y_of(self, value: float) -> float:
        """Where a value goes on the y axis (the loss chart plots logarithms)."""
        return value

    def render(self) -> RenderResult:
        if not self.members:
            return Text(self.empty_text, style="dim", justify="center")
        plt = self.plt
        plt.clear_figure()
        max_points = max(2, 2 * (self.size.width - Y_AXIS_COLUMNS))
        self.decorate()  # first, so the members' lines are drawn over the reference lines
        for m in range(len(self.members)):
            if not self.xs[m]:
                continue
            xs, ys = decimate(self.xs[m], self.ys[m], max_points)
            plt.plot(xs, [self.y_of(y) for y in ys], color=rgb(member_color(m)), marker="braille")
        for m, at in enumerate(self.diverged_at):
            if at is not None:
                plt.vline(at, rgb(member_color(m)))  # where the member stopped: its colour
        if self.total_iterations:
            plt.xlim(0, self.total_iterations)
            plt.xticks([float(t) for t in iteration_ticks(self.total_iterations)])
        plt.xlabel(self.x_label)
        return super().render()  # plotext builds the whole canvas here

    def render_lines(self, crop: Region) -> list[Strip]:
        # A redraw is plotext's build (in render) and Textual turning its text into strips
        # (here; measured at 160x48: about as much again). Every millisecond of it is CPU time
        # the engine could have had, so redraws are spaced to keep theirs under DRAW_SHARE of
        # the run (see the throttle): 20-30 ms a redraw at 160x48 -> 0.7-1 s apart.
        started = time.thread_time()
        lines = super().render_lines(crop)
        spent = time.thread_time() - started
        if spent > 0.002:  # a rebuild, not lines served from the cache
            self.throttle.cost(spent)
        return lines


class AccuracyChart(MemberChart):
    """Test accuracy per member at each evaluation, with the thresholds as grey lines."""

    def values(self, event: Evaluation) -> list[float | None]:
        return event.accuracy

    def decorate(self) -> None:
        for t in self.thresholds:
            self.plt.hline(t, rgb(THRESHOLD_COLOR))
        self.plt.ylim(0, 1)


class LossChart(MemberChart):
    """Mean training loss per member between evaluations, on a log scale (a diverging member
    spans decades before it is dropped). The chart plots log10(loss) and labels the axis with
    losses, so the labels stay short whatever the range."""

    def values(self, event: Evaluation) -> list[float | None]:
        return [v if v is not None and v > 0 else None for v in event.train_loss]

    def y_of(self, value: float) -> float:
        return math.log10(value)

    def decorate(self) -> None:
        logs = [math.log10(y) for ys in self.ys for y in ys]
        if not logs:
            return
        ticks = log_ticks(min(logs), max(logs), max(2, (self.size.height - 4) // 2))
        self.plt.yticks(ticks, [f"{10**t:.3g}" for t in ticks])


def log_ticks(lo: float, hi: float, most: int) -> list[float]:
    """log10 of round losses (1, 2, 5 times a power of ten, or whole decades over a wide
    range) between lo and hi, at most `most` of them."""
    first, last = math.floor(lo), math.ceil(hi)
    decades = range(first, last + 1)
    for mantissas in ((1.0, 2.0, 5.0), (1.0,)):
        ticks = [math.log10(m) + d for d in decades for m in mantissas]
        ticks = [t for t in ticks if lo - 1e-9 <= t <= hi + 1e-9]
        if 2 <= len(ticks) <= most:
            return ticks
    step = max(1, math.ceil((last - first) / max(1, most - 1)))
    return [float(d) for d in range(first, last + 1, step)]
