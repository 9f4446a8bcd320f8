"""The iterations-to-threshold table, one row per member, updated as the run goes.

Every figure comes from the engine's SummaryBuilder fed the same events as the charts, and its
cells from the threshold table's one model (`report.member_figures`), the one the batch table,
csv and `compare` are made from, so the app, the saved summary.json and `--batch` agree by
construction.
"""

from __future__ import annotations

import time
from typing import Any

from actlab.engine import RunConfig
from actlab.engine.events import DatasetInfo, Event, Progress, RunStarted
from actlab.engine.experiments.report import MemberFigures, member_figures
from actlab.engine.metrics import SummaryBuilder
from actlab.engine.results_model import Summary
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable

from ..palette import member_color
from .pacing import Paced


class ThresholdTable(Paced, DataTable[Any]):
    """Per member: sustained (and first) crossing and speedup per threshold, final accuracy,
    training seconds of one epoch of the member alone and of the lockstep cohort, status."""

    pace_s = 2.0  # a refill re-renders the whole table

    DEFAULT_CSS = """
    ThresholdTable {
        height: auto;
        max-height: 14;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="cell", zebra_stripes=True)
        self.builder = SummaryBuilder()
        self._shape: tuple[int, int] = (0, 0)  # members, thresholds of the rows and columns built
        self._fill_s = 0.0  # CPU time of the last refill

    def feed_event(self, event: Event) -> None:
        if isinstance(event, Progress):
            return
        if isinstance(event, RunStarted):
            self.builder = SummaryBuilder()
        self.builder.feed(event)
        self.mark_stale()

    def end_of_stream(self) -> None:
        """A saved run read to its end without run_finished: members still training show as
        interrupted."""
        self.builder.end_of_stream()
        self.paint_now()

    def clear_view(self) -> None:
        self.builder = SummaryBuilder()
        self.clear(columns=True)
        self._shape = (0, 0)

    def prepare(self, config: RunConfig) -> None:
        """Rows and columns for a run about to start, as its first event would make them, so
        they go in with the rest of the screen's change at Start (one layout pass, not one
        more once training has begun)."""
        self.builder = SummaryBuilder()
        self.builder.feed(
            RunStarted(
                config=config.to_dict(),
                members=list(config.activations),
                baseline=config.baseline,
                dataset=DatasetInfo(name="", source="", train_size=0, test_size=0, notice=None),
                device="",
                eval_every=0,
                diagnostics_every=0,
                iterations_per_epoch=0,
                total_iterations=0,
            )
        )
        self.paint_now()

    def summary(self) -> Summary:
        return self.builder.summary()

    def _build(self, figures: list[MemberFigures], thresholds: list[float]) -> None:
        """Columns and rows for this run's members and thresholds."""
        self.clear(columns=True)
        # what matters most first: a narrow table scrolls sideways
        self.add_column("member", key="member")
        self.add_column("status", key="status")
        self.add_column("final acc", key="final")
        for k, t in enumerate(thresholds):
            self.add_column(f"to {t:g}", key=f"to{k}")
            self.add_column(f"speedup {t:g}", key=f"speedup{k}")
        self.add_column("s/epoch alone", key="epoch_time_alone")
        self.add_column("s/epoch lockstep", key="epoch_time")
        for m, f in enumerate(figures):
            self.add_row(*self._cells(m, f), key=str(m))
        self._shape = (len(figures), len(thresholds))

    def render_lines(self, crop: Region) -> list[Strip]:
        # a refill costs the DataTable a full re-render: refills are spaced by what the refill
        # and the re-render cost together
        started = time.thread_time()
        lines = super().render_lines(crop)
        spent = time.thread_time() - started
        if spent > 0.002:  # a re-render, not rows served from the cache
            self.note_cost(spent + self._fill_s)
        return lines

    def paint(self) -> None:
        started = time.thread_time()
        self._fill_rows()
        self._fill_s = time.thread_time() - started

    def _fill_rows(self) -> None:
        summary = self.builder.summary()
        figures = member_figures(summary)
        shape = (len(figures), len(summary.thresholds))
        if shape != self._shape:
            self._build(figures, summary.thresholds)
            return
        columns = list(self.columns)
        for m, f in enumerate(figures):
            row = self.get_row(str(m))
            for key, old, cell in zip(columns, row, self._cells(m, f)):
                if old != cell:  # most cells do not change between evaluations; skip their redraw
                    self.update_cell(str(m), key, cell, update_width=True)

    def _cells(self, m: int, f: MemberFigures) -> list[Text]:
        cells = [
            Text(f.activation, style=f"bold {member_color(m)}"),
            Text(f.status.text, style=_STYLES[f.status.mark]),
            Text(f.final.text, justify="right"),
        ]
        for crossing, speedup in zip(f.crossings, f.speedups):
            cells.append(Text(crossing.text, style=_STYLES[crossing.mark], justify="right"))
            cells.append(Text(speedup.text, justify="right"))
        cells.append(Text(f.alone.text, justify="right"))
        cells.append(Text(f.lockstep.text, justify="right"))
        return cells


_STYLES = {"": "", "dim": "dim", "alert": "bold red"}  # the model's marks as the app shows them
