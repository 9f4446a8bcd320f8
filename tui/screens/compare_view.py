"""The compare view (`actlab-tui compare --app DIR...`): what `compare` prints, in the app.

The members of every run in one table (the rows of `compare.member_rows`), the settings that
differ between the runs, and every member's accuracy curve on one chart. Each member of each
run has its own colour, the same in the table and on the chart; Enter on a row replays that
run in the lab.
"""

from __future__ import annotations

from typing import ClassVar

from actlab.engine.experiments.compare import SavedRun, difference_rows, differences, member_rows
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from ..palette import member_color
from ..widgets.curves import Curve, CurvesChart
from ..widgets.footer import KeyFooter
from ..widgets.rows_table import RowsTable
from .views import SavedScreen

FOOT = "iterations to each threshold: sustained crossing (first crossing in parentheses)"


def series(runs: list[SavedRun]) -> list[tuple[int, int]]:
    """(run, member) of every series, in table order: series k is drawn in member_color(k)."""
    return [(r, m) for r, run in enumerate(runs) for m in range(len(run.summary.members))]


class CompareScreen(SavedScreen):
    """Runs, Settings and Curves in tabs."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "show_tab('tab-members')", "Runs", tooltip="Every member of every run."),
        Binding("d", "show_tab('tab-settings')", "Differences", tooltip="The settings that differ."),
        Binding("c", "show_tab('tab-curves')", "Curves", tooltip="Every member's accuracy on one chart."),
    ]

    def __init__(self, runs: list[SavedRun], back: bool = False) -> None:
        super().__init__(back)
        self.runs = runs
        self.series = series(runs)

    def compose(self) -> ComposeResult:
        title = Text.assemble(("Compare ", "bold"), (", ".join(r.label for r in self.runs), "bold"))
        title.append(f"  {len(self.runs)} run{'s' if len(self.runs) != 1 else ''}", style="dim")
        yield Static(title, id="saved-title")
        with TabbedContent(id="saved-views"):
            with TabPane("Runs", id="tab-members"), VerticalScroll():
                yield RowsTable(id="members")
                yield Static(FOOT + "; enter: replay the run in the lab", classes="note")
            with TabPane("Settings", id="tab-settings"), VerticalScroll():
                yield RowsTable(id="differences", cursor_type="none")
                yield Static(classes="note", id="differences-note")
            with TabPane("Curves", id="tab-curves"), Vertical():
                yield Static(id="curves-legend")
                yield CurvesChart(id="curves", empty="no evaluations to draw")
        yield KeyFooter()

    def on_mount(self) -> None:
        def member_style(row: int, column: int, cell: str) -> str:
            return f"bold {member_color(row)}" if column == 1 else ""

        keys = [f"{r}:{m}" for r, m in self.series]
        self.query_one("#members", RowsTable).fill(
            member_rows(self.runs), left=2, keys=keys, style=member_style
        )
        diff = differences(self.runs)
        note = self.query_one("#differences-note", Static)
        table = self.query_one("#differences", RowsTable)
        if len(self.runs) < 2:
            table.display = False
            note.update("one run: nothing to compare its settings with")
        elif not diff:
            table.display = False
            note.update("settings: the same in every run")
        else:
            table.fill(difference_rows(self.runs, diff))
            used = [k for k in ("dataset used", "device used", "evaluated every") if k in diff]
            note.update(f"{', '.join(used)}: what the runs actually used" if used else "")
        legend = Text()
        curves = []
        for k, (r, m) in enumerate(self.series):
            run = self.runs[r]
            name = f"{run.label}: {run.summary.members[m].activation}"
            legend.append(("  " if k else "") + "━━ ", style=member_color(k))
            legend.append(name, style=f"bold {member_color(k)}")
            xs, ys = run.curve(m)
            curves.append(Curve(name, member_color(k), xs, ys))
        self.query_one("#curves-legend", Static).update(legend)
        thresholds = [float(t) for t in self.runs[0].config["thresholds"]] if self.runs else []
        self.query_one(CurvesChart).show(curves, thresholds)
        self.query_one("#members", RowsTable).focus()

    @on(DataTable.RowSelected, "#members")
    def _selected(self, event: DataTable.RowSelected) -> None:
        r = int((event.row_key.value or "0").partition(":")[0])
        self.open_run(self.runs[r].directory)
