"""Test accuracy of saved runs on one chart: the compare view's and a seeds view's curves."""

from __future__ import annotations

from dataclasses import dataclass

from textual_plotext.plot import Plot

from ..palette import THRESHOLD_COLOR, rgb
from .chart import Chart
from .format import decimate, iteration_axis

Y_AXIS_COLUMNS = 8  # about what plotext takes for the y labels and frame


@dataclass
class Curve:
    """One member of one saved run: its accuracy at each evaluation, and its colour."""

    label: str
    color: str
    iterations: list[int]
    accuracy: list[float]


class CurvesChart(Chart):
    """Fixed curves (saved runs do not change), drawn at the canvas' size when shown."""

    def __init__(
        self,
        curves: list[Curve] | None = None,
        thresholds: list[float] | None = None,
        *,
        empty: str = "reading the runs...",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.curves = curves or []
        self.thresholds = thresholds or []
        self.empty = empty
        self._version = 0

    def show(self, curves: list[Curve], thresholds: list[float]) -> None:
        self.curves, self.thresholds = curves, thresholds
        self._version += 1
        self.refresh()

    def data_version(self) -> object | None:
        return self._version

    def empty_text(self) -> str | None:
        return None if self.curves else self.empty

    def paint_plot(self, plt: Plot, width: int, height: int) -> None:
        max_points = max(2, 2 * (width - Y_AXIS_COLUMNS))
        for t in self.thresholds:
            plt.hline(t, rgb(THRESHOLD_COLOR))
        last = 0
        for c in self.curves:
            if not c.iterations:
                continue
            xs, ys = decimate(c.iterations, c.accuracy, max_points)
            plt.plot(xs, ys, color=rgb(c.color), marker="braille")
            last = max(last, c.iterations[-1])
        plt.ylim(0, 1)
        if last:
            iteration_axis(plt, [0, last], width, most=5)
        plt.xlabel("iteration")
