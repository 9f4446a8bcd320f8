"""Live line charts of a comparison: test accuracy and training loss against iteration.

One line per member in its palette colour. A member keeps a bounded number of points, evenly
spaced, the latest among them, and the lowest and highest values exactly (`thinned.Series`),
so a run followed for hours holds no more than one of minutes; a paint picks at most two points
per column of the canvas (braille dots are two wide), so a chart costs the same after a hundred
epochs as after one.
"""

from __future__ import annotations

import math

from actlab.engine.events import Evaluation, Event, MemberDiverged, RunFinished, RunStarted
from textual_plotext.plot import Plot

from ..palette import THRESHOLD_COLOR, member_color, rgb
from .chart import Chart
from .format import decade_axis, decimate, iteration_axis
from .pacing import Paced
from .thinned import Series

Y_AXIS_COLUMNS = 8  # about what plotext takes for the y labels and frame
X_TICKS = 5


class MemberChart(Paced, Chart):
    """A chart with one series per member, fed engine events (see `feed_event`)."""

    DEFAULT_CSS = """
    MemberChart {
        height: 1fr;
        min-height: 8;
    }
    """

    x_label = "iteration"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.members: list[str] = []
        self.total_iterations = 0
        self.thresholds: list[float] = []
        self.series: list[Series] = []
        self.diverged_at: list[int | None] = []
        self._version = 0  # counts what was fed: the canvas is rebuilt only when it changes

    # --- the hook: the screen forwards every engine event of the run shown ------------------

    def feed_event(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.members = list(event.members)
            self.total_iterations = event.total_iterations
            self.thresholds = [float(t) for t in event.config.get("thresholds", [])]
            self.series = [Series() for _ in self.members]
            self.diverged_at = [None for _ in self.members]
        elif isinstance(event, Evaluation):
            for m, value in enumerate(self.values(event)):
                if value is not None and m < len(self.series):
                    self.series[m].append(event.iteration, value)
        elif isinstance(event, MemberDiverged):
            if event.member < len(self.diverged_at):
                self.diverged_at[event.member] = event.iteration
        elif not isinstance(event, RunFinished):
            return
        self.mark_stale()

    def clear_view(self) -> None:
        self.members = []
        self.series, self.diverged_at = [], []
        self.mark_stale()

    def mark_stale(self) -> None:
        self._version += 1
        super().mark_stale()

    def data_version(self) -> object | None:
        return self._version

    def paint(self) -> None:
        self.refresh()  # the plot is built in render(), at the size the widget has then

    # --- what each chart plots ---------------------------------------------------------------

    def empty_text(self) -> str | None:
        if self.members:
            return None
        return "No run yet: set up a comparison on the left and press ctrl+s to start."

    def values(self, event: Evaluation) -> list[float | None]:
        raise NotImplementedError

    def decorate(self, plt: Plot, height: int) -> None:
        """Axes, scale and reference lines of this chart."""

    def y_of(self, value: float) -> float:
        """Where a value goes on the y axis (the loss chart plots logarithms)."""
        return value

    def paint_plot(self, plt: Plot, width: int, height: int) -> None:
        max_points = max(2, 2 * (width - Y_AXIS_COLUMNS))
        self.decorate(plt, height)  # first, so the members' lines are drawn over the reference lines
        for m, series in enumerate(self.series):
            if not series.xs:
                continue
            xs, ys = decimate(series.xs, series.ys, max_points)
            plt.plot(xs, [self.y_of(y) for y in ys], color=rgb(member_color(m)), marker="braille")
        for m, at in enumerate(self.diverged_at):
            if at is not None:
                plt.vline(at, rgb(member_color(m)))  # where the member stopped: its colour
        if self.total_iterations:
            iteration_axis(plt, [0, self.total_iterations], width, most=X_TICKS)
        plt.xlabel(self.x_label)


class AccuracyChart(MemberChart):
    """Test accuracy per member at each evaluation, with the thresholds as grey lines."""

    def values(self, event: Evaluation) -> list[float | None]:
        return event.accuracy

    def decorate(self, plt: Plot, height: int) -> None:
        for t in self.thresholds:
            plt.hline(t, rgb(THRESHOLD_COLOR))
        plt.ylim(0, 1)


class LossChart(MemberChart):
    """Mean training loss per member between evaluations, on a log scale (a diverging member
    spans decades before it is dropped). The chart plots log10(loss) and labels the axis with
    losses, so the labels stay short whatever the range."""

    def values(self, event: Evaluation) -> list[float | None]:
        return [v if v is not None and v > 0 else None for v in event.train_loss]

    def y_of(self, value: float) -> float:
        return math.log10(value)

    def decorate(self, plt: Plot, height: int) -> None:
        # every value fed counts, the points no longer kept too: their range is kept exactly
        ends = [y for s in self.series for y in (s.low, s.high) if y is not None]
        decade_axis(plt, [math.log10(y) for y in ends], height)
