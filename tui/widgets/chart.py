"""The one chart base: a plotext canvas painted at render time, at the size it has then."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual.app import RenderResult
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

from .pacing import Paced

Painter = Callable[[Plot, int, int], None]


class Chart(PlotextPlot):
    """A plot painted by `painter(plt, width, height)` (or a subclass's `paint_plot`) when it
    renders, so a chart in a hidden tab costs nothing and every series can be decimated to
    the canvas. `empty_text`, when set, is shown instead of axes."""

    DEFAULT_CSS = """
    Chart {
        height: 1fr;
        width: 1fr;
        min-height: 6;
    }
    """

    def __init__(
        self, painter: Painter | None = None, *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.painter = painter
        self._built: tuple[object, RenderResult] | None = None  # (what it was built from, canvas)

    def empty_text(self) -> str | None:
        return None

    def paint_plot(self, plt: Plot, width: int, height: int) -> None:
        if self.painter is not None:
            self.painter(plt, width, height)

    def data_version(self) -> object | None:
        """What the plot is drawn from, as a value that changes whenever the data do; None
        (the default) rebuilds the canvas at every render."""
        return None

    def render(self) -> RenderResult:
        empty = self.empty_text()
        if empty is not None:
            return Text(empty, style="dim", justify="center")
        version = self.data_version()
        key = (version, self.size, self.app.theme, self.theme)
        if version is not None and self._built is not None and self._built[0] == key:
            return self._built[1]  # shown again, or repainted, with nothing new to draw
        plt = self.plt
        plt.clear_figure()
        plt.plotsize(self.size.width, self.size.height)
        self.paint_plot(plt, self.size.width, self.size.height)
        canvas = super().render()  # plotext builds the whole canvas here
        self._built = (key, canvas) if version is not None else None
        return canvas

    def render_lines(self, crop: Region) -> list[Strip]:
        # A paint is plotext's build (in render) and Textual turning its text into strips
        # (here); the view that owns the chart spaces its paints by what they cost.
        started = time.thread_time()
        lines = super().render_lines(crop)
        spent = time.thread_time() - started
        if spent > 0.002:  # a rebuild, not lines served from the cache
            owner = _paced_owner(self)
            if owner is not None:
                owner.note_cost(spent)
        return lines


def _paced_owner(widget: Widget) -> Paced | None:
    node: object = widget
    while isinstance(node, Widget):
        if isinstance(node, Paced):
            return node
        node = node.parent
    return None


class FixedChart(Chart):
    """A chart of data given whole (saved runs, a computed diagram), rebuilt only when `shown`
    hands it new data: its canvas is cached between renders."""

    _version = 0

    def shown(self) -> None:
        """New data: the next render rebuilds the canvas."""
        self._version += 1
        self.refresh()

    def data_version(self) -> object | None:
        return self._version
