"""Formatting and axis helpers shared by every chart, legend and table of the app."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Select, Static
from textual_plotext.plot import Plot

from ..palette import rgb


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


def iteration_axis(plt: Plot, iterations: Sequence[int], width: int, most: int | None = None) -> None:
    """X ticks on round iteration numbers over the span of `iterations` (plotext's own would
    read 27.5), at most `most` of them (default: one per ten columns, a label's width)."""
    if not iterations:
        return
    lo, hi = min(iterations), max(iterations)
    if hi == lo:
        plt.xticks([float(lo)], [str(lo)])
        return
    most = most or max(2, width // 10)
    step = 1
    for k in range(12):
        step = next((s * 10**k for s in (1, 2, 5) if (hi - lo) / (s * 10**k) <= most), 0)
        if step:
            break
    first = -(-lo // step) * step
    ticks = list(range(first, hi + 1, step))
    plt.xlim(lo, hi)
    plt.xticks([float(t) for t in ticks], [str(t) for t in ticks])


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
