"""Gradient flow: does the gradient reach the first layers, or vanish on the way?

Left (or top): the gradient norm of each layer's weights over iterations, on a log scale,
for one member, or for every member's first and last hidden layer. Right (or bottom): the
norm against depth at the latest diagnostics point, with the best case of an activation
whose derivative never exceeds 1/4 (sigmoid): the gradient shrinks by 0.25 per layer.
"""

from __future__ import annotations

import math

from actlab.engine.activation_lookup import lookup
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Select, Static
from textual_plotext.plot import Plot

from ..palette import member_color, rgb
from .chart import Chart
from .diagnostics_base import REFERENCE_COLOR, DiagnosticsView
from .format import decade_axis, decimate, iteration_axis, layer_color, legend, log_points, set_select, swatch

ALL_MEMBERS = -1  # Select value: every member's first and last layer
ALL_LABEL = "all: layers 1 and L"


class GradientFlowView(DiagnosticsView):
    """Per-layer gradient norms over training, and their profile across depth."""

    DEFAULT_CSS = """
    GradientFlowView .diag-panel {
        height: 1fr;
        width: 1fr;
    }
    GradientFlowView #grad-member {
        width: 26;
    }
    """

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="diag-controls"):
            yield Static("Over iterations:")
            yield Select(
                [(ALL_LABEL, ALL_MEMBERS)],
                value=ALL_MEMBERS,
                allow_blank=False,
                compact=True,
                id="grad-member",
            )
            yield Static("", id="grad-status")
        with Horizontal(classes="diag-charts"):
            with Vertical(classes="diag-panel"):
                yield Chart(self._paint_over_time, id="grad-time")
                yield Static("", classes="diag-legend", id="grad-time-legend")
            with Vertical(classes="diag-panel"):
                yield Chart(self._paint_depth, id="grad-depth")
                yield Static("", classes="diag-legend", id="grad-depth-legend")

    @property
    def selected_member(self) -> int:
        value = self.query_one("#grad-member", Select).value
        return value if isinstance(value, int) and value < len(self.history.members) else ALL_MEMBERS

    @on(Select.Changed, "#grad-member")
    def _member_changed(self, event: Select.Changed) -> None:
        self.redraw()

    def update_body(self) -> None:
        h = self.history
        select = self.query_one("#grad-member", Select)
        options = [(ALL_LABEL, ALL_MEMBERS)] + [(f"{m.activation}: every layer", m.index) for m in h.members]
        if [o[1] for o in options] != getattr(self, "_option_values", None):
            self._option_values = [o[1] for o in options]
            set_select(select, options, select.value)
        self.query_one("#grad-status", Static).update(
            Text(f"iteration {h.latest_iteration}, probed every {_every(self)}", style="dim")
        )
        self.query_one("#grad-time-legend", Static).update(self._time_legend())
        self.query_one("#grad-depth-legend", Static).update(self._depth_legend())
        super().update_body()

    # -- legends -----------------------------------------------------------------------

    def _member_entries(self) -> list[Text]:
        out = []
        for m in self.history.members:
            label = m.activation if m.diverged_at is None else f"{m.activation} (diverged at {m.diverged_at})"
            out.append(swatch(member_color(m.index), label))
        return out

    def _time_legend(self) -> Text:
        h = self.history
        sel = self.selected_member
        if sel == ALL_MEMBERS:
            depth = h.depth
            return legend(*self._member_entries(), f"━━ layer {depth} (last)   ·· layer 1 (first)")
        depth = h.member(sel).depth
        entries = [swatch(layer_color(i, depth), f"{i + 1}", "━") for i in range(depth)]
        return legend(Text(f"{h.member(sel).activation}, layer", style="dim"), *entries, sep=" ")

    def _depth_legend(self) -> Text:
        refs = [m for m in self.history.members if _shrink_factor(m.activation) is not None]
        entries: list[Text | str] = list(self._member_entries())
        for m in refs:
            factor = _shrink_factor(m.activation)
            entries.append(swatch(REFERENCE_COLOR, f"{factor:g}^k: {m.activation}'s best case", "··"))
        return legend(*entries)

    # -- charts ------------------------------------------------------------------------

    def _paint_over_time(self, plt: Plot, width: int, height: int) -> None:
        h = self.history
        max_points = max(2, width - 10)  # the y labels take about ten columns
        sel = self.selected_member
        every_log: list[float] = []

        def line(member: int, layer: int, color: tuple[int, int, int], marker: str) -> None:
            xs, ys, _ = log_points(*h.series(member, layer, "grad_norm"))
            xs, ys = decimate(xs, ys, max_points)
            if xs:
                plt.plot(xs, ys, color=color, marker=marker)
                every_log.extend(ys)

        if sel == ALL_MEMBERS:
            for m in h.members:
                if m.depth:
                    color = rgb(member_color(m.index))
                    line(m.index, m.depth - 1, color, "braille")
                    if m.depth > 1:
                        line(m.index, 0, color, "·")
            plt.title("gradient norm over iterations (log)")
        else:
            m = h.member(sel)
            for layer in range(m.depth):
                line(sel, layer, layer_color(layer, m.depth), "braille")
            plt.title(f"{m.activation}: gradient norm per layer over iterations (log)")
        decade_axis(plt, every_log, height)
        iteration_axis(plt, h.iterations, width)

    def _paint_depth(self, plt: Plot, width: int, height: int) -> None:
        h = self.history
        depth = h.depth
        every_log: list[float] = []
        for m in h.members:
            profile = m.latest_profile()
            xs, ys, _ = log_points(list(range(1, len(profile) + 1)), profile)
            if not xs:
                continue
            color = rgb(member_color(m.index))
            plt.plot(xs, ys, color=color, marker="braille")
            plt.scatter(xs, ys, color=color, marker="●")
            every_log.extend(ys)
            factor = _shrink_factor(m.activation)
            last = profile[-1]
            if factor is not None and last is not None and last > 0 and len(profile) > 1:
                # anchored at the last hidden layer: each layer further back multiplies by f'max
                n = len(profile)
                ref = [math.log10(last) + (n - k) * math.log10(factor) for k in range(1, n + 1)]
                plt.plot(list(range(1, n + 1)), ref, color=rgb(REFERENCE_COLOR), marker="·")
                every_log.extend(ref)
        if depth:
            plt.xticks(list(range(1, depth + 1)), [str(k) for k in range(1, depth + 1)])
            plt.xlim(0.8, depth + 0.2)
        plt.title(f"gradient norm vs layer at iteration {h.latest_iteration} (log)")
        decade_axis(plt, every_log, height)


def _shrink_factor(activation: str) -> float | None:
    """f'max for activations whose derivative is below 1 everywhere (sigmoid: 1/4), else None."""
    act = lookup(activation)
    return act.max_derivative if act is not None and act.max_derivative < 1 else None


def _every(view: DiagnosticsView) -> str:
    run = view.history.run
    return str(run.diagnostics_every) if run is not None else "?"
