"""Saturated and dead units per layer: the two ways a unit stops passing gradient.

A saturating activation (sigmoid, tanh, ...) reports the saturated fraction (f' below 1% of
its largest value); one whose units can die (ReLU) reports the dead fraction (f' = 0 on the
whole probe batch). Where neither applies the engine reports None, and the view says "not
applicable" rather than drawing a misleading zero.
"""

from __future__ import annotations

from actlab.engine.activation_lookup import lookup
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Select, Static
from textual_plotext.plot import Plot

from ..palette import member_color
from .chart import Chart
from .diagnostics_base import DiagnosticsView
from .diagnostics_history import MemberHistory
from .format import decimate, iteration_axis, layer_color, legend, pct, present, set_select, swatch

NOT_APPLICABLE = "not applicable"


def applicable_figure(member: MemberHistory) -> str | None:
    """The figure that means something for this member: saturated_fraction, dead_fraction or None.

    Taken from the registry, so a member that has no diagnostics yet is still described;
    for a name the registry lacks, from whichever figure the engine reported."""
    act = lookup(member.activation)
    if act is not None:
        if act.saturating:
            return "saturated_fraction"
        if act.can_die:
            return "dead_fraction"
        return None
    for name in ("saturated_fraction", "dead_fraction"):
        if any(member.latest(i, name) is not None for i in range(member.depth)):
            return name
    return None


def not_applicable_reason(activation: str) -> str:
    act = lookup(activation)
    if act is None:
        return "the engine reports neither figure for it"
    if act.name == "identity":
        return "its derivative is 1 everywhere"
    return "its derivative never fades to zero, so units neither saturate nor die"


FIGURE_WORD = {"saturated_fraction": "saturated", "dead_fraction": "dead"}


class SaturationView(DiagnosticsView):
    """Saturated or dead fraction per layer over iterations, and the latest per layer."""

    DEFAULT_CSS = """
    SaturationView .diag-chart-box {
        height: 1fr;
    }
    SaturationView #sat-na {
        height: 1fr;
        content-align: center middle;
        text-align: center;
        color: $text-muted;
    }
    SaturationView DataTable {
        height: auto;
        max-height: 9;
    }
    """

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="diag-controls"):
            yield Static("Over iterations:")
            yield Select([("-", 0)], value=0, allow_blank=False, compact=True, id="sat-member")
            yield Static("", id="sat-status")
        yield Chart(self._paint, id="sat-chart")
        yield Static("", id="sat-na")
        yield Static("", classes="diag-legend", id="sat-legend")
        table: DataTable[Text | str] = DataTable(id="sat-table", cursor_type="none", zebra_stripes=False)
        yield table

    @property
    def selected_member(self) -> int:
        value = self.query_one("#sat-member", Select).value
        return value if isinstance(value, int) and value < len(self.history.members) else 0

    @on(Select.Changed, "#sat-member")
    def _member_changed(self, event: Select.Changed) -> None:
        self.redraw()

    def update_body(self) -> None:
        h = self.history
        select = self.query_one("#sat-member", Select)
        values = [m.index for m in h.members]
        if values != getattr(self, "_option_values", None):
            self._option_values = values
            # start on the first member where a figure applies: that is the interesting one
            first = next((m.index for m in h.members if applicable_figure(m)), 0)
            set_select(select, [(m.activation, m.index) for m in h.members], first)
        m = h.member(self.selected_member)
        figure = applicable_figure(m)
        chart, na = self.query_one("#sat-chart", Chart), self.query_one("#sat-na", Static)
        chart.display, na.display = figure is not None, figure is None
        if figure is None:
            na.update(f"{m.activation}: {NOT_APPLICABLE}: {not_applicable_reason(m.activation)}.")
        definition = {
            "saturated_fraction": "saturated: f' < 1% of max f' (units × probe samples)",
            "dead_fraction": "dead: f' = 0 on the whole probe batch",
        }
        entries = [swatch(layer_color(i, m.depth), str(i + 1), "━") for i in range(m.depth)]
        self.query_one("#sat-legend", Static).update(
            legend(Text("layer", style="dim"), *entries, sep=" ")
            + Text("   " + (definition[figure] if figure else ""), style="dim")
        )
        self.query_one("#sat-status", Static).update(
            Text(f"table: iteration {h.latest_iteration}", style="dim")
        )
        self._fill_table()
        super().update_body()

    def _fill_table(self) -> None:
        h = self.history
        table: DataTable[Text | str] = self.query_one("#sat-table", DataTable)
        depth = h.depth
        shape = (depth, tuple(m.activation for m in h.members))
        if shape != getattr(self, "_table_shape", None):
            # a new run: new columns and rows; later points only update the cells
            self._table_shape = shape
            table.clear(columns=True)
            table.add_column("member", key="member")
            table.add_column("figure", key="figure")
            for i in range(depth):
                table.add_column(Text(f"L{i + 1}", justify="right"), key=f"L{i + 1}")
            for m in h.members:
                table.add_row(*self._row(m, depth), key=str(m.index))
            return
        for m in h.members:
            for key, cell in zip(
                ["member", "figure"] + [f"L{i + 1}" for i in range(depth)], self._row(m, depth), strict=True
            ):
                table.update_cell(str(m.index), key, cell, update_width=True)

    @staticmethod
    def _row(m: MemberHistory, depth: int) -> list[Text | str]:
        name = Text(m.activation, style=member_color(m.index))
        figure = applicable_figure(m)
        if m.diverged_at is not None:
            return [name, Text(f"diverged at {m.diverged_at}", style="dim"), *[""] * depth]
        if figure is None:
            return [name, Text(NOT_APPLICABLE, style="dim italic"), *[""] * depth]
        cells = [Text(pct(m.latest(i, figure)), justify="right") for i in range(depth)]
        return [name, FIGURE_WORD[figure], *cells]

    def _paint(self, plt: Plot, width: int, height: int) -> None:
        h = self.history
        m = h.member(self.selected_member)
        figure = applicable_figure(m)
        if figure is None or not m.iterations:
            return
        top = 0.0
        for layer in range(m.depth):
            xs, ys = present(*h.series(m.index, layer, figure))
            xs, ys = decimate(xs, [100 * y for y in ys], max(2, width - 8))
            if xs:
                plt.plot(xs, ys, color=layer_color(layer, m.depth), marker="braille")
                top = max(top, *ys)
        # a fixed 0-100% axis would flatten 3% into the floor; round the top up instead
        top = next(t for t in (1, 2, 5, 10, 20, 25, 50, 100) if t >= min(top, 100))
        plt.ylim(0, top)
        ticks = [0, top / 2, top]
        plt.yticks(ticks, [f"{t:g}%" for t in ticks])
        iteration_axis(plt, m.iterations, width)
        plt.title(f"{m.activation}: {FIGURE_WORD[figure]} units per layer over iterations")
