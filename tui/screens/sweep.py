"""The sweep view (`--open` on a sweep directory): every point, which activation wins where,
each activation at its best learning rate, the paired statements, and the verdict over each
activation at its own best point; Enter on a point opens its seeds (`SeedsScreen`), and from
there each seed's run in the lab.

Every table is the batch one (`actlab.engine.experiments.report_sweeps`: sweep_rows,
heatmap_rows, best_lr_rows, sweep_statements), so the app and `actlab-tui --batch --open DIR`
say the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from actlab.engine.experiments.opened import OpenedSweep
from actlab.engine.experiments.report import setting_text, value_text
from actlab.engine.experiments.report_pairs import PAIRS_NOTE, holm_note, pair_rows
from actlab.engine.experiments.report_sweeps import (
    best_lr_note,
    best_lr_rows,
    best_points_rows,
    heatmap_rows,
    shown_threshold,
    sweep_rows,
    sweep_statements,
)
from actlab.engine.experiments.saved import load_seeds
from actlab.engine.experiments.store import ResultsError
from actlab.engine.experiments.trainability import TrainMap, map_caption, map_rows, trainability_maps
from actlab.engine.results_model import PairedSpeedup, SweepResults
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, ScrollableContainer, Vertical, VerticalScroll
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from ..palette import member_color
from ..widgets.footer import KeyFooter
from ..widgets.rows_table import RowsTable
from ..widgets.statements import Statements
from ..widgets.verdict import VerdictPanel
from ..widgets.wins import WinsGrid, wins_legend
from .seeds import SeedsScreen
from .views import SavedScreen, where


def point_keys(results: SweepResults) -> list[str]:
    """The key of each row of `sweep_rows` (after its header): "point:member", or "point:-"
    for a point not finished."""
    keys = []
    for p, point in enumerate(results.points):
        agg = point.aggregate
        keys += [f"{p}:-"] if agg is None else [f"{p}:{m}" for m in range(len(agg.members))]
    return keys


def _vs_baseline(results: SweepResults, key: str, k: int) -> PairedSpeedup | None:
    p, _, m = key.partition(":")
    agg = results.points[int(p)].aggregate
    if agg is None or m == "-":
        return None
    return agg.members[int(m)].thresholds[k].vs_baseline


TRAIN_NOTE = (
    "A cell: the final test accuracy (mean over the seeds; * above 0.5, trained; - diverged or "
    "unfinished), on a colour from dark (chance) to bright; '<' where the depth is within the "
    "6 ξc mean-field theory expects to train at that σw² (Schoenholz et al. 2017), '>' beyond it. "
    "report DIR draws the map with the 6 ξc curve over it."
)


def _train_style(m: TrainMap) -> Callable[[int, int, str], str]:
    """A map cell's colour by its accuracy (rows after the 6 xi_c row are the depths)."""

    def style(row: int, column: int, cell: str) -> str:
        if row == 0:
            return "italic"
        if column == 0:
            return "bold"
        a = m.accuracy.get((m.depths[row - 1], m.sigma_w2s[column - 1]))
        if a is None:
            return "red"
        t = max(0.0, min(1.0, (a - 0.1) / 0.9))  # chance (0.1) dark, 1.0 bright
        g = round(40 + 160 * t)
        ink = "black" if t > 0.55 else "white"
        return f"{ink} on rgb({round(30 + 40 * t)},{g},{round(60 + 30 * t)})"

    return style


def title_text(saved: OpenedSweep) -> Text:
    r = saved.results
    axes = " x ".join(f"{n} ({', '.join(value_text(v) for v in vs)})" for n, vs in r.axes)
    seeds = r.seeds
    text = Text.assemble(("Sweep ", "bold"), (where(saved.directory), "bold"), f"  {axes}; ")
    text.append(f"{len(r.points)} points x {len(seeds)} seed{'s' if len(seeds) != 1 else ''}; ")
    for i, name in enumerate(r.activations):
        text.append(("" if i == 0 else ", ") + name, style=f"bold {member_color(i)}")
    if r.baseline:
        text.append(f" (baseline {r.baseline})", style="dim")
    if not r.complete:
        text.append("\nUnfinished points: actlab-tui --batch --resume DIR trains them.", style="yellow")
    return text


class SweepScreen(SavedScreen):
    """A sweep directory: Points, Wins, Best lr (when lr is swept), Paired and Verdict, in
    tabs; on a wide terminal the Points tab has the wins grid beside the table."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "show_tab('tab-points')", "Points", tooltip="Every point and activation."),
        Binding("w", "show_tab('tab-wins')", "Wins", tooltip="Which activation wins where."),
        Binding("l", "show_tab('tab-best')", "Best lr", tooltip="Each activation at its best lr."),
        Binding("s", "show_tab('tab-paired')", "Paired", tooltip="The paired statements of every point."),
        Binding(
            "v",
            "show_tab('tab-verdict')",
            "Verdict",
            tooltip="Each activation at its best point: the answer.",
        ),
        Binding(
            "t",
            "show_tab('tab-train')",
            "Trainability",
            tooltip="Accuracy over depth x sigma_w2 against 6 xi_c.",
        ),
    ]

    def __init__(self, saved: OpenedSweep, back: bool = False) -> None:
        super().__init__(back)
        self.saved = saved
        self.results = saved.results
        self.keys = point_keys(self.results)
        self.maps = trainability_maps(self.results, saved.plan.base) or []

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "show_tab" and parameters == ("tab-best",) and not self.results.best_lr:
            return False  # no lr axis: no such tab, and the key is not shown
        if action == "show_tab" and parameters == ("tab-train",) and not self.maps:
            return False  # no depth x sigma_w2 sweep
        return super().check_action(action, parameters)

    def compose(self) -> ComposeResult:
        r = self.results
        yield Static(title_text(self.saved), id="saved-title")
        with TabbedContent(id="saved-views"):
            with TabPane("Points", id="tab-points"), Horizontal(id="points-body"):
                with Vertical(id="points-main"):
                    yield RowsTable(id="points")
                    with VerticalScroll(id="point-detail"):
                        yield Statements(id="point-statements")
                with VerticalScroll(id="points-side"):
                    yield WinsGrid(r, id="side-wins")
                    yield Static(wins_legend(r.activations), classes="wins-legend")
            with TabPane("Wins", id="tab-wins"), ScrollableContainer(id="wins-body"):
                yield WinsGrid(r, id="wins")
                yield Static(wins_legend(r.activations), classes="wins-legend")
                grid = heatmap_rows(r)
                yield Static(grid[1] if grid else "", classes="note")
            if r.best_lr:
                with TabPane("Best lr", id="tab-best"), VerticalScroll():
                    yield RowsTable(id="best-lr", cursor_type="none")
                    yield Static(best_lr_note(r), classes="note")
            with TabPane("Paired", id="tab-paired"), VerticalScroll():
                yield Statements(id="paired")
            if self.maps:
                with TabPane("Trainability", id="tab-train"), VerticalScroll():
                    for i, m in enumerate(self.maps):
                        yield RowsTable(id=f"train-{i}", cursor_type="none")
                        yield Static(map_caption(m), classes="note")
                    yield Static(TRAIN_NOTE, classes="note")
            with TabPane("Verdict", id="tab-verdict"), VerticalScroll():
                yield VerdictPanel(id="verdict")
                yield RowsTable(id="best-points", cursor_type="none")
                yield RowsTable(id="sweep-pairs", cursor_type="none")
                yield Static(classes="note", id="sweep-pairs-note")
        yield KeyFooter()

    def on_mount(self) -> None:
        r = self.results
        axes = len(r.axes)
        acts = r.activations
        rows = sweep_rows(r)
        top = shown_threshold(r)

        def style(row: int, column: int, cell: str) -> str:
            if column == axes:
                return f"bold {member_color(acts.index(cell))}" if cell in acts else "dim"
            if column == len(rows[0]) - 1 and len(r.seeds) > 1:
                p = _vs_baseline(r, self.keys[row], top)
                if p is not None and p.clear:
                    return "green" if (p.ratio_low or 0) > 1 else "red"
            return ""

        self.query_one("#points", RowsTable).fill(rows, left=axes + 1, keys=self.keys, style=style)
        best = best_lr_rows(r)
        if best is not None:
            others = len(best[0]) - 7

            def best_style(row: int, column: int, cell: str) -> str:
                return f"bold {member_color(acts.index(cell))}" if column == others and cell in acts else ""

            self.query_one("#best-lr", RowsTable).fill(best, left=others + 1, style=best_style)
        groups: dict[str, list[str]] = {}
        for s in sweep_statements(r):
            point, _, statement = s.partition(": ")
            groups.setdefault(point, []).append(statement)
        self.query_one("#paired", Statements).show(
            list(groups.items()), "No paired statements: one seed per point, or nothing reached."
        )
        for i, m in enumerate(self.maps):
            self.query_one(f"#train-{i}", RowsTable).fill(map_rows(m, marks=True), style=_train_style(m))
        self.query_one("#verdict", VerdictPanel).show(r.verdict, list(acts))
        contenders = best_points_rows(r)
        if contenders is not None and r.pairs:
            self.query_one("#best-points", RowsTable).fill(contenders, left=3)
            self.query_one("#sweep-pairs", RowsTable).fill(pair_rows(r.pairs), left=2)
            self.query_one("#sweep-pairs-note", Static).update(PAIRS_NOTE + "\n" + holm_note(r.tests))
        self._detail(self.keys[0] if self.keys else None)
        self.query_one("#points", RowsTable).focus()

    @on(DataTable.RowHighlighted, "#points")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail(event.row_key.value)

    def _detail(self, key: str | None) -> None:
        """Under the table: the highlighted point and activation's paired statements."""
        box = self.query_one("#point-statements", Statements)
        if key is None:
            box.show([], "")
            return
        p, _, m = key.partition(":")
        point = self.results.points[int(p)]
        agg = point.aggregate
        name = ", ".join(f"{n}={setting_text(v)}" for n, v in point.values.items())
        if agg is None:
            box.show([], f"{name}: not finished (actlab-tui --batch --resume DIR trains it).")
            return
        member = agg.members[int(m)]
        act = member.activation
        # as under "Paired": a threshold neither reached in any seed says nothing
        pairs = [t.vs_baseline for t in member.thresholds if t.vs_baseline is not None]
        statements = [p.statement for p in pairs if p.neither < p.seeds]
        if not statements:
            why = (
                "the baseline"
                if act == agg.baseline
                else "nothing reached a threshold in any seed"
                if pairs
                else "no baseline to pair with"
            )
            box.show([], f"{name}, {act}: {why}. Enter: this point's seeds.")
            return
        box.show([(f"{name}, {act} (enter: this point's seeds)", statements)], "")

    @on(DataTable.RowSelected, "#points")
    def _selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value or ""
        self.open_point(int(key.partition(":")[0]))

    def open_point(self, index: int) -> None:
        """The point's seeds view, over this one (escape comes back)."""
        directory = self.saved.point_dir(index)
        try:
            seeds = load_seeds(directory, self.results.seeds)
        except ResultsError as exc:
            self.notify(str(exc), title="Cannot open that point", severity="error")
            return
        self.app.push_screen(SeedsScreen(seeds, back=True, runs_first=True))
