"""Series that keep a bounded number of points however long the run they come from.

A view keeps what it draws, point by point, for as long as the run it shows goes on; a run
followed for hours would grow its memory without bound. A canvas draws a few hundred points at
most (`format.decimate`), so a series keeps at most `cap` evenly spaced ones, and always the
latest: every `stride`-th point appended, the stride doubling each time `cap` is passed.
Plain Python, no Textual.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Points a series keeps at most (and at least half of, once passed): several times what the
# widest canvas draws, so a chart looks the same as with every point.
SERIES_CAP = 2048


class Thinning:
    """Keeps aligned columns (lists growing together, one value per point) to at most `cap`
    (even) + 1 rows: the rows appended at multiples of `stride`, and the latest row.

    Call `before(columns)` before appending a row to every column and `after(columns)` once
    it is appended. The latest row, when off the stride, is replaced by the next one."""

    def __init__(self, cap: int = SERIES_CAP) -> None:
        if cap < 2 or cap % 2:
            raise ValueError(f"cap must be even and at least 2, not {cap}")
        self.cap = cap
        self.stride = 1
        self.appended = 0  # rows appended in all, kept or not
        self.tail = False  # the last row kept is off the stride (kept only as the latest)

    def before(self, columns: Sequence[list[Any]]) -> None:
        if self.tail:
            for column in columns:
                column.pop()
            self.tail = False

    def after(self, columns: Sequence[list[Any]]) -> None:
        on_stride = self.appended % self.stride == 0
        self.appended += 1
        if not on_stride:
            self.tail = True
            return
        if columns and len(columns[0]) > self.cap:
            # rows at 0, s, ..., cap*s: every other one, the latest (cap even) among them
            for column in columns:
                column[:] = column[::2]
            self.stride *= 2


class Series:
    """One curve: x and y of at most `cap` + 1 points (evenly spaced among those appended, and
    the latest), with the lowest and highest y ever appended, exactly."""

    def __init__(self, cap: int = SERIES_CAP) -> None:
        self.xs: list[Any] = []
        self.ys: list[float] = []
        self.low: float | None = None
        self.high: float | None = None
        self._thinning = Thinning(cap)

    def __len__(self) -> int:
        return len(self.xs)

    def append(self, x: Any, y: float) -> None:
        columns = (self.xs, self.ys)
        self._thinning.before(columns)
        self.xs.append(x)
        self.ys.append(y)
        self._thinning.after(columns)
        self.low = y if self.low is None else min(self.low, y)
        self.high = y if self.high is None else max(self.high, y)
