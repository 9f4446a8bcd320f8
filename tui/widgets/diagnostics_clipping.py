"""Clipping: how large the gradient was before clipping, and how often it was cut.

Top (or left): the mean pre-clip gradient norm between diagnostics points per member (solid)
and its maximum (dotted), log scale, with the threshold. Bottom (or right): the share of
steps clipped between diagnostics points. With `--clip value` the threshold bounds each
element, not the norm, so no threshold line is drawn against the norm.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static
from textual_plotext.plot import Plot

from ..palette import member_color, rgb
from .chart import Chart
from .diagnostics_base import REFERENCE_COLOR, DiagnosticsView
from .format import decade_axis, decimate, iteration_axis, legend, log_points, pct, present, swatch

NORM_NAMES = {"l2": "L2 norm", "l1": "L1 norm", "inf": "largest |g|", "value": "L2 norm"}


class ClippingView(DiagnosticsView):
    """Pre-clip gradient norm against the threshold, and the fraction of steps clipped."""

    DEFAULT_CSS = """
    ClippingView #clip-summary {
        height: auto;
        padding: 0 1;
    }
    """

    def compose_body(self) -> ComposeResult:
        yield Static("", id="clip-summary")
        with Horizontal(classes="diag-charts"):
            yield Chart(self._paint_norm, id="clip-norm")
            yield Chart(self._paint_fraction, id="clip-fraction")
        yield Static("", classes="diag-legend", id="clip-legend")

    def empty_message(self) -> str | None:
        h = self.history
        if h.run is not None and h.clip is None:
            return (
                "Gradient clipping is off for this run (--clip none).\n"
                "Run with, for example, --clip l2 --clip-threshold 1 to see the pre-clip gradient "
                "norm against the threshold and how often steps are clipped."
            )
        return super().empty_message()

    def update_body(self) -> None:
        h = self.history
        mode = h.clip or "?"
        threshold = h.clip_threshold
        head = Text.assemble(
            (f"{mode} clipping at {threshold:g}" if threshold is not None else f"{mode} clipping", "bold"),
            " · steps clipped overall: ",
        )
        parts = []
        for m in h.members:
            total = m.clipping["clipped_fraction_total"]
            value = next((v for v in reversed(total) if v is not None), None)
            label = f"{m.activation} {pct(value)}"
            if m.diverged_at is not None:
                label += f" (diverged at {m.diverged_at})"
            parts.append(Text(label, style=member_color(m.index)))
        self.query_one("#clip-summary", Static).update(head + Text("  ").join(parts))
        entries: list[Text | str] = [swatch(member_color(m.index), m.activation) for m in h.members]
        entries.append("━━ mean, ·· max since the previous probe")
        if h.clip == "value":
            entries.append("value clipping bounds each element, so no threshold line on the norm")
        else:
            entries.append(swatch(REFERENCE_COLOR, "threshold", "──"))
        self.query_one("#clip-legend", Static).update(legend(*entries))
        super().update_body()

    def _paint_norm(self, plt: Plot, width: int, height: int) -> None:
        h = self.history
        max_points = max(2, width - 10)
        every_log: list[float] = []
        for m in h.members:
            color = rgb(member_color(m.index))
            for name, marker in (("preclip_norm_max", "·"), ("preclip_norm", "braille")):
                xs, ys, _ = log_points(*h.clip_series(m.index, name))
                xs, ys = decimate(xs, ys, max_points)
                if xs:
                    plt.plot(xs, ys, color=color, marker=marker)
                    every_log.extend(ys)
        threshold = h.clip_threshold
        if threshold is not None and threshold > 0 and h.clip != "value":
            plt.horizontal_line(math.log10(threshold), color=rgb(REFERENCE_COLOR))
            every_log.append(math.log10(threshold))
        decade_axis(plt, every_log, height)
        iteration_axis(plt, h.iterations, width)
        plt.title(f"pre-clip gradient {NORM_NAMES.get(h.clip or '', 'norm')} (log)")

    def _paint_fraction(self, plt: Plot, width: int, height: int) -> None:
        h = self.history
        for m in h.members:
            xs, ys = present(*h.clip_series(m.index, "clipped_fraction"))
            xs, ys = decimate(xs, [100 * y for y in ys], max(2, width - 8))
            if xs:
                plt.plot(xs, ys, color=rgb(member_color(m.index)), marker="braille")
        plt.ylim(0, 100)
        plt.yticks([0, 50, 100], ["0%", "50%", "100%"])
        iteration_axis(plt, h.iterations, width)
        plt.title("steps clipped since the previous probe")
