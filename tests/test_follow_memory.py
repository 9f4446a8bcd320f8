"""A followed run keeps a bounded state: the views' stored points do not grow with the stream,
and the threshold table still comes from every evaluation."""

from __future__ import annotations

from typing import Any

import pytest
from actlab.engine.events import Diagnostics, Evaluation, Event, RunStarted
from actlab.tui.state import RunStatus
from actlab.tui.widgets.charts import AccuracyChart, LossChart
from actlab.tui.widgets.diagnostics import diagnostics_tabs
from actlab.tui.widgets.diagnostics_history import DIAGNOSTICS_CAP, DiagnosticsHistory
from actlab.tui.widgets.table import ThresholdTable
from actlab.tui.widgets.thinned import SERIES_CAP, Series, Thinning
from streams import long_run

SHORT, LONG = 1_500, 20_000  # evaluations: below every cap, and far past them (4,000 probes)


def elements(obj: Any, seen: set[int] | None = None) -> int:
    """How many values `obj` holds: items of every list, tuple, set and dict in it, through
    plain objects' attributes (not bytes: the bound is on what is kept, not on how it is)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or isinstance(obj, (str, bytes, int, float, bool, type(None))):
        return 0
    seen.add(id(obj))
    if isinstance(obj, dict):
        return len(obj) + sum(elements(k, seen) + elements(v, seen) for k, v in obj.items())
    if isinstance(obj, (list, tuple, set)):
        return len(obj) + sum(elements(v, seen) for v in obj)
    if hasattr(obj, "__dict__"):
        return sum(elements(v, seen) for v in vars(obj).values())
    return 0


class Views:
    """What the lab feeds while it follows a run (`LabScreen._forward`): the status, the two
    charts, the threshold table and the diagnostics views (one shared history)."""

    def __init__(self) -> None:
        self.status = RunStatus()
        self.accuracy, self.loss, self.table = AccuracyChart(), LossChart(), ThresholdTable()
        self.history = DiagnosticsHistory()
        self.sinks: list[Any] = [self.accuracy, self.loss, self.table]
        self.sinks += [view for _title, view in diagnostics_tabs(self.history)]

    def feed(self, events: Any) -> None:
        for event in events:
            self.status.feed(event)
            for sink in self.sinks:
                sink.feed_event(event)

    def kept(self) -> dict[str, int]:
        """Values held by each view's data (the widgets' own Textual state aside)."""
        return {
            "status": elements(self.status),
            "accuracy": elements((self.accuracy.series, self.accuracy.diverged_at)),
            "loss": elements((self.loss.series, self.loss.diverged_at)),
            "table": elements(self.table.builder),
            "diagnostics": elements(self.history),
        }


@pytest.fixture(scope="module")
def long_stream() -> list[Event]:
    return list(long_run(LONG))


@pytest.fixture(scope="module")
def fed(long_stream: list[Event]) -> dict[int, Views]:
    out = {SHORT: Views(), LONG: Views()}
    out[SHORT].feed(long_run(SHORT))
    out[LONG].feed(long_stream)
    return out


def test_what_the_views_keep_does_not_grow_with_the_stream(fed: dict[int, Views]) -> None:
    short, long = fed[SHORT].kept(), fed[LONG].kept()
    # figures that are one per member (or per run) from the start: the same however long
    for name in ("status", "table"):
        assert long[name] == short[name], name
    # a chart: x and y of at most SERIES_CAP + 1 points per member (3)
    assert short["accuracy"] > 2 * 3 * SHORT // 2  # every point while under the cap
    for name in ("accuracy", "loss"):
        assert long[name] <= 3 * 2 * (SERIES_CAP + 1) + 3 + 10, name
    # diagnostics: at most DIAGNOSTICS_CAP + 1 points; a point is 16 values per member (two
    # layers of five figures, the output gradient, four clipping figures, its iteration), plus
    # the latest histograms and the run's settings
    bound = (DIAGNOSTICS_CAP + 1) * (1 + 3 * 16) + 1_000
    assert elements(fed[SHORT].history.run) < 1_000
    assert long["diagnostics"] <= bound
    assert short["diagnostics"] > (SHORT // 5) * 2 * 16  # every point of the two that never diverge


def test_the_latest_point_is_always_kept(fed: dict[int, Views], long_stream: list[Event]) -> None:
    events = long_stream
    last_eval = next(e for e in reversed(events) if isinstance(e, Evaluation))
    last_diag = next(e for e in reversed(events) if isinstance(e, Diagnostics))
    views = fed[LONG]
    for m, series in enumerate(views.accuracy.series):
        value = last_eval.accuracy[m]
        if value is not None:
            assert (series.xs[-1], series.ys[-1]) == (last_eval.iteration, value)
        assert series.xs[0] == 10  # and the first
    h = views.history
    assert h.latest_iteration == last_diag.iteration
    for m, report in enumerate(last_diag.members):
        member = h.member(m)
        assert all(len(column) == len(member.iterations) for column in member.columns())
        if report is not None:
            assert member.iterations[-1] == last_diag.iteration
            assert member.latest_profile() == [layer["grad_norm"] for layer in report["layers"]]


def reference_table(events: list[Event]) -> list[dict[str, Any]]:
    """The table's figures computed here from every evaluation, as seed.md defines them."""
    started = next(e for e in events if isinstance(e, RunStarted))
    thresholds = [float(t) for t in started.config["thresholds"]]
    evaluations = [e for e in events if isinstance(e, Evaluation)]
    rows = []
    for m in range(len(started.members)):
        seen = [(e.iteration, e.epoch, e.accuracy[m]) for e in evaluations if e.accuracy[m] is not None]
        last_epoch = max(epoch for _it, epoch, _acc in seen)
        final = [acc for _it, epoch, acc in seen if epoch == last_epoch]
        row: dict[str, Any] = {"final": sum(final) / len(final), "first": [], "sustained": []}
        for t in thresholds:
            row["first"].append(next((it for it, _e, acc in seen if acc >= t), None))
            below = [k for k, (_it, _e, acc) in enumerate(seen) if acc < t]
            after = below[-1] + 1 if below else 0
            row["sustained"].append(seen[after][0] if after < len(seen) else None)
        rows.append(row)
    return rows


def test_the_table_comes_from_every_evaluation(fed: dict[int, Views], long_stream: list[Event]) -> None:
    expected = reference_table(long_stream)
    table = fed[LONG].table
    summary = table.summary()
    crossings = 0
    for m, (member, row) in enumerate(zip(summary.members, expected, strict=True)):
        figures = member.thresholds
        assert [t.first for t in figures] == row["first"]
        assert [t.sustained for t in figures] == row["sustained"]
        crossings += sum(t.first != t.sustained for t in figures)
        if member.status != "diverged":
            assert table.builder.final_accuracy(table.builder.members[m]) == pytest.approx(
                row["final"], abs=1e-12
            )
    assert crossings  # the stream's dips make first and sustained crossings differ


def test_thinning_keeps_evenly_spaced_points_and_the_latest() -> None:
    series = Series(cap=16)
    for n in range(1, 3_000):
        y = float((n * 37) % 101)
        series.append(n - 1, y)
        assert len(series) <= 17
        assert series.xs[0] == 0 and series.xs[-1] == n - 1  # the first and the latest
        steps = {b - a for a, b in zip(series.xs[:-2], series.xs[1:-1], strict=True)}
        assert len(steps) <= 1  # evenly spaced, the latest aside
    assert (series.low, series.high) == (0.0, 100.0)  # exactly, kept or not
    with pytest.raises(ValueError, match="cap must be even"):
        Thinning(7)
