"""The app's threshold table and the batch table are one model (report.member_figures): for
the same stored run, every figure the app shows is the batch table's text (issue 17)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from actlab.engine.experiments.report import threshold_rows
from actlab.engine.experiments.results import read_events
from actlab.tui.widgets.table import ThresholdTable
from textual.app import App, ComposeResult

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("name", ["tui_custom", "tui_diverged", "diag_clip"])
def test_the_app_table_shows_the_batch_tables_figures(name: str) -> None:
    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield ThresholdTable()

    async def fill() -> tuple[ThresholdTable, list[list[str]]]:
        async with One().run_test(size=(200, 30)) as pilot:
            table = pilot.app.query_one(ThresholdTable)
            for event in read_events(FIXTURES / name):
                table.feed_event(event)
            table.paint()
            return table, [[str(c) for c in table.get_row_at(r)] for r in range(table.row_count)]

    table, shown = asyncio.run(fill())
    batch = threshold_rows(table.summary())
    by_label = {row[0]: row[1:] for row in batch}
    members = batch[0][1:]
    assert [row[0] for row in shown] == members
    thresholds = table.summary().thresholds
    for m, row in enumerate(shown):
        member, status, final, *per_threshold, alone, lockstep = row
        assert status == by_label["Status"][m]
        assert final == by_label["Final accuracy"][m]
        assert alone == by_label["Training time of 1 epoch (s)"][m]
        crossings, speedups = per_threshold[0::2], per_threshold[1::2]
        for k, t in enumerate(thresholds):
            at = [i for i, r in enumerate(batch) if r[0] == f"Iterations to reach {t:g}"][0]
            assert crossings[k] == batch[at][1 + m]
            assert speedups[k] == batch[at + 1][1 + m]
        epoch = table.summary().members[m].epoch_time_s
        assert lockstep == ("-" if epoch is None else f"{epoch:.4f}")
