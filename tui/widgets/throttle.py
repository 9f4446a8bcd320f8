"""At most a few redraws a second: the training thread shares the interpreter with the UI,
and building a plotext chart or refilling a table is not free."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static

# Measured on 2 busy cores: a 200x50 accuracy chart took about 0.1 s to build, so four
# redraws a second cost the training thread a third of its speed; two cost far less.
REDRAW_INTERVAL_S = 0.5
DRAW_SHARE = 0.01  # the most of the UI's time that redrawing one view may take


class RedrawThrottle:
    """Calls `redraw` at most once per interval, trailing: a request inside the interval is
    served when it ends, so the last state is always drawn."""

    def __init__(
        self, widget: Widget, redraw: Callable[[], None], interval: float = REDRAW_INTERVAL_S
    ) -> None:
        self.widget = widget
        self.redraw = redraw
        self.base_interval = interval
        self.interval = interval
        self._last = 0.0
        self._timer: Timer | None = None

    def cost(self, spent: float) -> None:
        """What the last redraw took on the UI thread: the next waits long enough to keep
        redraws under DRAW_SHARE of the time (measured on 2 cores: a chart at 80x24 about a
        second apart, one at 160x48 three to four; every point is kept and drawn then)."""
        self.interval = max(self.base_interval, spent / DRAW_SHARE)

    def request(self, now: bool = False) -> None:
        """Ask for a redraw; `now` skips the wait (the end of a run, a new run)."""
        if now:
            self._cancel()
            self._draw()
            return
        if self._timer is not None:
            return
        wait = self._last + self.interval - time.monotonic()
        if wait <= 0:
            self._draw()
        else:
            self._timer = self.widget.set_timer(wait, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._draw()

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _draw(self) -> None:
        self._last = time.monotonic()
        self.redraw()


def hidden(widget: Widget) -> bool:
    """In a tab (or panel) that is not shown: drawing it now would only cost CPU time."""
    node: Widget | None = widget
    while node is not None:
        if not node.display:
            return True
        parent = node.parent
        node = parent if isinstance(parent, Widget) else None
    return False


def lines_needed(text: Text, width: int) -> int:
    """How many lines `text` takes at `width` columns (wrapped at any character)."""
    width = max(1, width)
    return sum(max(1, -(-len(line) // width)) for line in text.plain.split("\n"))


def update_text(widget: Static, text: Text) -> None:
    """Static.update, asking for a layout pass only when the height may change: one costs
    the whole screen's arrangement and repaint (tens of ms), drawing a line costs little."""
    widget.update(
        text, layout=lines_needed(text, widget.content_region.width) != widget.content_region.height
    )
