"""The seeds view (`--open` on a `--seeds N` directory, or a sweep's point): the verdict, the
comparison over seeds with its paired statements, every pair of members, each seed's run
(Enter replays it in the lab), and each member's mean accuracy and loss over the seeds with
the band from its lowest seed to its highest.

The tables are the batch ones (`actlab.engine.experiments.report_sweeps`: aggregate_rows and
aggregate_notes; `report_pairs`: pair_rows), the verdict the aggregate's own.
"""

from __future__ import annotations

from typing import ClassVar

from actlab.engine.experiments.opened import OpenedSeeds
from actlab.engine.experiments.report import fixed_text
from actlab.engine.experiments.report_pairs import PAIRS_NOTE, holm_note, pair_rows
from actlab.engine.experiments.report_sweeps import aggregate_notes, aggregate_rows
from actlab.engine.experiments.store import ResultsError
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from ..palette import member_color
from ..widgets.curves import BandCurve, BandsChart
from ..widgets.footer import KeyFooter
from ..widgets.rows_table import RowsTable
from ..widgets.statements import Statements
from ..widgets.verdict import VerdictPanel
from .views import SavedScreen, where


def title_text(saved: OpenedSeeds) -> Text:
    agg = saved.aggregate
    text = Text.assemble(("Seeds ", "bold"), (where(saved.directory), "bold"), "  ")
    for i, m in enumerate(agg.members):
        text.append(("" if i == 0 else ", ") + m.activation, style=f"bold {member_color(i)}")
    if agg.baseline:
        text.append(f" (baseline {agg.baseline})", style="dim")
    text.append(f"; seeds {', '.join(map(str, saved.seeds))}")
    if saved.missing:
        text.append(f"\nNo result yet for seed {', '.join(map(str, saved.missing))}.", style="yellow")
    return text


def run_rows(saved: OpenedSeeds) -> list[list[str]]:
    """One row per seed: its status, iterations and each member's final accuracy."""
    names = [m.activation for m in saved.aggregate.members]
    rows = [["seed", "status", "iterations", *[f"{n} final" for n in names]]]
    by_seed = {s.seed: s for s in saved.summaries}
    for seed in saved.seeds:
        s = by_seed.get(seed)
        if s is None:
            rows.append([str(seed), "no result", "", *[""] * len(names)])
            continue
        cells = []
        for m in s.members:
            cell = fixed_text(m.final_accuracy, 4)
            cells.append(cell + (" (diverged)" if m.status == "diverged" else ""))
        rows.append([str(seed), s.status, str(s.iterations), *cells])
    return rows


class SeedsScreen(SavedScreen):
    """Verdict, Over seeds, Pairs, Runs, Accuracy and Loss in tabs. `runs_first`: open on the
    Runs tab (from a sweep, whose table already holds the figures over seeds)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "show_tab('tab-verdict')", "Verdict", tooltip="What the seeds concluded, in words."),
        Binding("a", "show_tab('tab-aggregate')", "Over seeds", tooltip="Mean ± sd and paired statements."),
        Binding("p", "show_tab('tab-pairs')", "Pairs", tooltip="Every pair of members, paired by seed."),
        Binding("r", "show_tab('tab-runs')", "Runs", tooltip="Each seed's run; enter replays it."),
        Binding(
            "c", "show_tab('tab-curves')", "Accuracy", tooltip="Mean test accuracy over seeds, with its band."
        ),
        Binding("l", "show_tab('tab-loss')", "Loss", tooltip="Mean training loss over seeds, with its band."),
    ]

    def __init__(self, saved: OpenedSeeds, back: bool = False, runs_first: bool = False) -> None:
        super().__init__(back)
        self.saved = saved
        self.runs_first = runs_first

    def compose(self) -> ComposeResult:
        yield Static(title_text(self.saved), id="saved-title")
        initial = "tab-runs" if self.runs_first else "tab-verdict"
        with TabbedContent(id="saved-views", initial=initial):
            with TabPane("Verdict", id="tab-verdict"), VerticalScroll():
                yield VerdictPanel(id="verdict")
            with TabPane("Over seeds", id="tab-aggregate"), VerticalScroll():
                yield RowsTable(id="aggregate", cursor_type="none")
                yield Static(classes="note", id="aggregate-note")
                yield Statements(id="seed-statements")
            with TabPane("Pairs", id="tab-pairs"), VerticalScroll():
                yield RowsTable(id="pairs", cursor_type="none")
                yield Static(classes="note", id="pairs-note")
            with TabPane("Runs", id="tab-runs"), Vertical():
                yield RowsTable(id="seed-runs")
                yield Static("enter: replay the seed's run in the lab (escape comes back)", classes="note")
            with TabPane("Accuracy", id="tab-curves"), Vertical():
                yield Static(id="curves-legend", classes="bands-legend")
                yield BandsChart(id="curves")
            with TabPane("Loss", id="tab-loss"), Vertical():
                yield Static(id="loss-legend", classes="bands-legend")
                yield BandsChart(id="loss", log=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        agg = self.saved.aggregate
        names = [m.activation for m in agg.members]

        def head(column: int, label: str) -> str:
            return f"bold {member_color(column - 1)}" if column >= 1 and label in names else ""

        self.query_one("#verdict", VerdictPanel).show(agg.verdict, names)
        self.query_one("#aggregate", RowsTable).fill(aggregate_rows(agg), header_style=head)
        pairs = self.query_one("#pairs", RowsTable)
        if agg.pairs:
            pairs.fill(pair_rows(agg.pairs), left=2)
            self.query_one("#pairs-note", Static).update(PAIRS_NOTE + "\n" + holm_note(agg.tests))
        else:
            self.query_one("#pairs-note", Static).update("One member: no pairs.")
        foot, *statements = aggregate_notes(agg)
        self.query_one("#aggregate-note", Static).update(foot)
        lines = statements[0].splitlines() if statements else []
        self.query_one("#seed-statements", Statements).show([("Paired by seed", lines)], "")

        def run_head(column: int, label: str) -> str:
            return f"bold {member_color(column - 3)}" if column >= 3 else ""

        runs = self.query_one("#seed-runs", RowsTable)
        runs.fill(
            run_rows(self.saved), left=2, keys=[str(s) for s in self.saved.seeds], header_style=run_head
        )
        n = len(self.saved.runs)
        for chart, what in (("#curves-legend", "test accuracy"), ("#loss-legend", "training loss")):
            legend = Text()
            for i, name in enumerate(names):
                legend.append(("  " if i else "") + "━━ ", style=member_color(i))
                legend.append(name, style=f"bold {member_color(i)}")
            over = "the geometric mean" if what == "training loss" else "the mean"
            legend.append(
                f"  {what}: {over} over {n} seeds, shaded from the lowest seed to the highest", style="dim"
            )
            self.query_one(chart, Static).update(legend)
        self.action_show_tab("tab-runs" if self.runs_first else "tab-verdict")  # and focus it
        self._load_curves()

    @work(thread=True, exclusive=True, group="curves")
    def _load_curves(self) -> None:
        """Every seed's evaluations (read from its events.jsonl, checked line by line), as
        each member's mean and band over the seeds."""
        from actlab.engine.experiments.compare import band, load_run

        try:
            runs = [load_run(d, f"seed-{s}") for s, d in self.saved.runs.items()]
        except ResultsError as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Cannot draw the curves", severity="error")
            return
        if not runs:
            return
        thresholds = runs[0].summary.thresholds
        names = [m.activation for m in runs[0].summary.members]
        for chart, measure in (("#curves", "accuracy"), ("#loss", "loss")):
            curves = []
            for i, name in enumerate(names):
                b = band(runs, i, measure)
                curves.append(BandCurve(name, member_color(i), b.iterations, b.mean, b.low, b.high))
            self.app.call_from_thread(self.query_one(chart, BandsChart).show, curves, thresholds)

    @on(DataTable.RowSelected, "#seed-runs")
    def _selected(self, event: DataTable.RowSelected) -> None:
        seed = int(event.row_key.value or 0)
        directory = self.saved.runs.get(seed)
        if directory is None:
            self.notify(f"seed {seed} has no result yet", severity="warning")
            return
        self.open_run(directory)
