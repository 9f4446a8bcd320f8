"""How the app paces its redraws: views are marked stale as events arrive, and one timer on
the screen paints the stale ones that are on view.

A view paints at most every `pace_s`, and further apart when its last paint was expensive:
its paints are kept under DRAW_SHARE of the time, since every millisecond the UI spends
drawing is one the engine process cannot have on a machine with few cores. A view in a
hidden tab stays stale and paints the frame after it is shown.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import ClassVar

from textual.widget import Widget

from .format import hidden

TICK_S = 0.25  # the pacer's timer
DRAW_SHARE = 0.01  # the most of the UI's time that painting one view may take


class Paced:
    """A view the screen's pacer paints. Feeding it marks it stale; `paint()` draws now."""

    pace_s: ClassVar[float] = 0.5  # the least time between two paints while data come in
    stale: bool = False
    _painted_at: float = -1e9
    _wait_s: float = 0.0  # pace_s, or longer after an expensive paint

    def mark_stale(self) -> None:
        self.stale = True

    def note_cost(self, spent_s: float) -> None:
        """What the last paint took on the UI thread (render included): the next one waits
        long enough to keep paints under DRAW_SHARE of the time."""
        self._wait_s = max(self.pace_s, spent_s / DRAW_SHARE)

    def due(self, now: float) -> bool:
        return self.stale and now - self._painted_at >= max(self.pace_s, self._wait_s)

    def paint_now(self) -> None:
        self.stale = False
        self._painted_at = time.monotonic()
        self.paint()

    def paint(self) -> None:
        raise NotImplementedError

    def on_show(self) -> None:
        # the tab's own frame first; the data that came in while hidden one frame later
        if self.stale and isinstance(self, Widget):
            self.call_after_refresh(self.paint_now)


def paced_views(root: Widget) -> list[Paced]:
    return [w for w in root.walk_children(Widget) if isinstance(w, Paced)]


def pace(views: Iterable[Paced], force: bool = False) -> None:
    """Paint the stale views on view that are due (all stale ones on view, if forced)."""
    now = time.monotonic()
    for view in views:
        if view.stale and (force or view.due(now)) and not (isinstance(view, Widget) and hidden(view)):
            view.paint_now()
