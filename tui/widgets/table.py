"""The iterations-to-threshold table, one row per member, updated as the run goes.

Every figure comes from the engine's SummaryBuilder fed the same events as the charts, and is
written with the same words as the batch table (`actlab.engine.report`), so the app, the
saved summary.json and `--batch` agree by construction.
"""

from __future__ import annotations

import time
from typing import Any

from actlab.engine import RunConfig
from actlab.engine.events import Event, Progress, RunStarted
from actlab.engine.experiments.report import crossing_text, speedup_text, status_text
from actlab.engine.metrics import SummaryBuilder
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
                dataset={},
                device="",
                eval_every=0,
                diagnostics_every=0,
                iterations_per_epoch=0,
                total_iterations=0,
            )
        )
        self.paint_now()

    def summary(self) -> dict[str, Any]:
        return self.builder.summary()

    def _build(self, summary: dict[str, Any]) -> None:
        """Columns and rows for this run's members and thresholds."""
        self.clear(columns=True)
        members = summary["members"]
        thresholds = [t["threshold"] for t in members[0]["thresholds"]] if members else []
        # what matters most first: a narrow table scrolls sideways
        self.add_column("member", key="member")
        self.add_column("status", key="status")
        self.add_column("final acc", key="final")
        for k, t in enumerate(thresholds):
            self.add_column(f"to {t:g}", key=f"to{k}")
            self.add_column(f"speedup {t:g}", key=f"speedup{k}")
        self.add_column("s/epoch alone", key="epoch_time_alone")
        self.add_column("s/epoch lockstep", key="epoch_time")
        for m, member in enumerate(members):
            self.add_row(*self._cells(summary, m, member), key=str(m))
        self._shape = (len(members), len(thresholds))

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
        members = summary["members"]
        shape = (len(members), len(members[0]["thresholds"]) if members else 0)
        if shape != self._shape:
            self._build(summary)
            return
        columns = list(self.columns)
        for m, member in enumerate(members):
            row = self.get_row(str(m))
            for key, old, cell in zip(columns, row, self._cells(summary, m, member)):
                if old != cell:  # most cells do not change between evaluations; skip their redraw
                    self.update_cell(str(m), key, cell, update_width=True)

    def _cells(self, summary: dict[str, Any], m: int, member: dict[str, Any]) -> list[Any]:
        baseline = member["activation"] == summary.get("baseline")
        status_style = "bold red" if member["status"] == "diverged" else ""
        final = member["final_accuracy"]
        cells: list[Any] = [
            Text(member["activation"], style=f"bold {member_color(m)}"),
            Text(status_text(member), style=status_style),
            Text("-" if final is None else f"{final:.4f}", justify="right"),
        ]
        for t in member["thresholds"]:
            crossing = crossing_text(t["first"], t["sustained"])
            cells.append(Text(crossing, style="dim" if t["sustained"] is None else "", justify="right"))
            cells.append(Text(speedup_text(t["speedup"], baseline), justify="right"))
        alone = member.get("epoch_time_alone_s")
        cells.append(Text("-" if alone is None else f"{alone:.3f}", justify="right"))
        epoch_time = member["epoch_time_s"]
        cells.append(Text("-" if epoch_time is None else f"{epoch_time:.3f}", justify="right"))
        return cells
