"""Saved runs on one chart: every run's test accuracy (the compare view), and each member's
mean over seeds with its band (a seeds view's accuracy and loss)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from textual_plotext.plot import Plot

from ..palette import THRESHOLD_COLOR, rgb
from .chart import FixedChart
from .format import decade_axis, decimate, iteration_axis

Y_AXIS_COLUMNS = 8  # about what plotext takes for the y labels and frame


@dataclass
class Curve:
    """One member of one saved run: its accuracy at each evaluation, and its colour."""

    label: str
    color: str
    iterations: list[int]
    accuracy: list[float]


class CurvesChart(FixedChart):
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

    def show(self, curves: list[Curve], thresholds: list[float]) -> None:
        self.curves, self.thresholds = curves, thresholds
        self.shown()

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


@dataclass
class BandCurve:
    """One member over seeds: its mean at each evaluation and the band from its lowest seed to
    its highest (`compare.Band`), in its colour."""

    label: str
    color: str
    iterations: list[int]
    mean: list[float]
    low: list[float]
    high: list[float]


BAND_CELLS = 4000  # cells the bands may fill in all: a paint stays a few tens of ms
BAND_MARK = "░"  # a band's cells: shaded, so the mean's braille line reads over them


def shade(color: str, dark: bool, amount: float = 0.45) -> tuple[int, int, int]:
    """`color` faded toward the background (black on a dark theme, white on a light one): the
    band behind its member's mean line."""
    target = 0 if dark else 255
    return tuple(round(c + (target - c) * amount) for c in rgb(color))  # type: ignore[return-value]


class BandsChart(FixedChart):
    """Each member's mean over seeds as a line, over a band filled from its lowest seed to its
    highest: the default view of a seeds run, not one line per seed. `log`: the values are
    drawn on a logarithmic axis (the training loss)."""

    def __init__(
        self,
        *,
        log: bool = False,
        empty: str = "reading the runs...",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.curves: list[BandCurve] = []
        self.thresholds: list[float] = []
        self.logarithmic = log
        self.empty = empty

    def show(self, curves: list[BandCurve], thresholds: list[float]) -> None:
        self.curves, self.thresholds = curves, thresholds
        self.shown()

    def empty_text(self) -> str | None:
        return None if any(c.iterations for c in self.curves) else self.empty

    def _y(self, v: float) -> float:
        return math.log10(v) if self.logarithmic else v

    def paint_plot(self, plt: Plot, width: int, height: int) -> None:
        columns = max(2, 2 * (width - Y_AXIS_COLUMNS))  # braille: two dots a column
        if self.logarithmic:
            ends = [self._y(v) for c in self.curves for v in (*c.low, *c.high) if v > 0]
            decade_axis(plt, ends, height)
            span = (max(ends) - min(ends)) if ends else 1.0
        else:
            for t in self.thresholds:
                plt.hline(t, rgb(THRESHOLD_COLOR))
            plt.ylim(0, 1)
            span = 1.0
        step = max(span, 1e-9) / max(1, height - 4)  # a cell a row
        dark = self.app.current_theme.dark
        budget = BAND_CELLS // max(1, len(self.curves))
        last = 0
        cells = max(2, width - Y_AXIS_COLUMNS)
        for c in self.curves:  # the bands first, every mean line over them
            if not c.iterations:
                continue
            xs, ys = [], []
            for x, lo, hi in _columns(
                c.iterations, [self._y(v) for v in c.low], [self._y(v) for v in c.high], cells
            ):
                k = max(1, min(int((hi - lo) / step) + 1, budget // cells))
                xs += [x] * k
                ys += [lo + (hi - lo) * j / max(1, k - 1) for j in range(k)]
            plt.scatter(xs, ys, color=shade(c.color, dark), marker=BAND_MARK)
            last = max(last, c.iterations[-1])
        for c in self.curves:
            if c.iterations:
                xs, ys = decimate(c.iterations, [self._y(v) for v in c.mean], columns)
                plt.plot(xs, ys, color=rgb(c.color), marker="braille")
        if last:
            iteration_axis(plt, [0, last], width, most=5)
        plt.xlabel("iteration")


def _columns(
    xs: list[int], low: list[float], high: list[float], cells: int
) -> list[tuple[float, float, float]]:
    """The band at `cells` evenly spaced x positions over `xs`' span: its low and high edges
    interpolated between evaluations, so the band is whole, not a bar at each evaluation."""
    if len(xs) == 1:
        return [(float(xs[0]), low[0], high[0])]
    out = []
    first, last = xs[0], xs[-1]
    i = 0
    for j in range(cells):
        x = first + (last - first) * j / (cells - 1)
        while i < len(xs) - 2 and xs[i + 1] < x:
            i += 1
        t = 0.0 if xs[i + 1] == xs[i] else (x - xs[i]) / (xs[i + 1] - xs[i])
        t = min(1.0, max(0.0, t))
        out.append((x, low[i] + (low[i + 1] - low[i]) * t, high[i] + (high[i + 1] - high[i]) * t))
    return out
