"""The diagnostics views: their history, helpers, behaviour and snapshots.

Everything here replays recorded runs from tests/fixtures, never live training:

    diag_clip    actlab-tui --batch -d sample -a sigmoid,tanh,relu --depth 6 --width 32
                 --max-iterations 80 --eval-every 20 --diagnostics-every 10 --clip l2
                 --clip-threshold 0.5
    diag_noclip  actlab-tui --batch -d sample -a sigmoid,leaky_relu,identity --input-scaling raw
                 --lr 0.005 --depth 3 --width 32 --max-iterations 40 --eval-every 20
                 --diagnostics-every 10        (identity diverges at iteration 8)
    theory_run   actlab-tui --batch -d sample -a sigmoid,tanh,relu --depth 8 --width 128
                 --init recommended --max-iterations 40 --eval-every 20 --diagnostics-every 20
                 --theory      (with the probe before the first step, iteration 0)

Refresh the snapshots with `make test-snapshot-update` after a deliberate change.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
from actlab.engine.events import Diagnostics, Event, RunStarted
from actlab.engine.experiments.results import read_events
from actlab.tui.widgets.diagnostics import (
    MEMBER_COLORS,
    ActivationFunctionsView,
    ClippingView,
    DiagnosticsHistory,
    GradientFlowView,
    PropertiesTable,
    SaturationView,
    TheoryView,
    diagnostics_tabs,
)
from actlab.tui.widgets.diagnostics_history import LAYER_FIELDS
from actlab.tui.widgets.format import decade_axis, decimate, iteration_axis, log_points
from actlab.tui.widgets.pacing import DRAW_SHARE, pace
from textual.app import App, ComposeResult
from textual.widget import Widget
from textual.widgets import Select

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
CLIP, NOCLIP = FIXTURES / "diag_clip", FIXTURES / "diag_noclip"


def _load_snapshot_apps() -> Any:
    # tests/ is not a package; load the snapshot app module by path
    spec = importlib.util.spec_from_file_location("diag_views", HERE / "snapshot_apps" / "diag_views.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DiagViewApp = _load_snapshot_apps().DiagViewApp


def events(directory: Path) -> list[Event]:
    return list(read_events(directory))


def raw_diagnostics(directory: Path) -> list[dict[str, Any]]:
    """The diagnostics lines of events.jsonl as plain JSON: an independent reading."""
    lines = (directory / "events.jsonl").read_text().splitlines()
    return [d for d in map(json.loads, lines) if d["type"] == "diagnostics"]


def fed(directory: Path) -> DiagnosticsHistory:
    h = DiagnosticsHistory()
    for e in events(directory):
        h.feed(e)
    return h


# -- DiagnosticsHistory ----------------------------------------------------------------


def test_history_knows_the_run() -> None:
    h = fed(CLIP)
    assert h.activations == ["sigmoid", "tanh", "relu"]
    assert h.depth == 6
    assert h.clip == "l2" and h.clip_threshold == 0.5
    assert h.iterations == [d["iteration"] for d in raw_diagnostics(CLIP)]
    assert h.hist_edges[0] == -6.0 and h.hist_edges[-1] == 6.0
    assert h.status == "done"


def test_history_series_match_the_stored_stream() -> None:
    h = fed(CLIP)
    raw = raw_diagnostics(CLIP)
    for m in range(3):
        member = h.member(m)
        assert member.iterations == [d["iteration"] for d in raw]
        for layer in range(6):
            for name in LAYER_FIELDS:
                _, values = h.series(m, layer, name)
                assert values == [d["members"][m]["layers"][layer][name] for d in raw]
            assert member.layers[layer].preact_hist == raw[-1]["members"][m]["layers"][layer]["preact_hist"]
        assert member.output_grad_norm == [d["members"][m]["output_grad_norm"] for d in raw]
        _, clipped = h.clip_series(m, "clipped_fraction_total")
        assert clipped == [d["members"][m]["clipping"]["clipped_fraction_total"] for d in raw]
        assert member.clip_threshold == 0.5


def test_history_keeps_not_applicable_figures_as_none() -> None:
    h = fed(CLIP)
    sigmoid, tanh, relu = (h.member(i) for i in range(3))
    assert all(v is None for v in sigmoid.layers[0].series["dead_fraction"])
    assert all(v is None for v in tanh.layers[0].series["dead_fraction"])
    assert all(v is None for v in relu.layers[0].series["saturated_fraction"])
    assert relu.latest(5, "dead_fraction") is not None


def test_history_profile_is_input_side_first_and_shows_vanishing_sigmoid_gradient() -> None:
    h = fed(CLIP)
    sigmoid = h.member(0).latest_profile()
    relu = h.member(2).latest_profile()
    assert sigmoid[0] is not None and sigmoid[-1] is not None
    assert sigmoid[0] / sigmoid[-1] < 1e-2  # orders of magnitude lost on the way to layer 1
    assert relu[0] is not None and relu[-1] is not None
    assert relu[0] / relu[-1] > 0.1


def test_history_of_a_diverged_member_stops() -> None:
    h = fed(NOCLIP)
    assert h.activations == ["sigmoid", "leaky_relu", "identity"]
    identity = h.member(2)
    assert identity.diverged_at == 8
    assert identity.iterations == [] and identity.latest_profile() == [None, None, None]
    assert h.member(0).iterations == h.iterations == [10, 20, 30, 40]
    assert h.clip is None and h.clip_threshold is None
    assert all(v is None for v in h.member(0).clipping["preclip_norm"])


def test_feeding_is_idempotent_so_views_can_share_one_history() -> None:
    stream = events(CLIP)
    once, twice = DiagnosticsHistory(), DiagnosticsHistory()
    for e in stream:
        assert twice.feed(e) == once.feed(e)
        version = twice.version
        assert twice.feed(e) is False  # the second view feeding the same event changes nothing
        assert twice.version == version
    assert twice.iterations == once.iterations
    assert twice.member(0).layers[0].series == once.member(0).layers[0].series


def test_a_new_run_resets_the_history() -> None:
    h = fed(CLIP)
    for e in events(NOCLIP):
        h.feed(e)
    assert h.activations == ["sigmoid", "leaky_relu", "identity"]
    assert h.iterations == [10, 20, 30, 40]
    assert h.depth == 3


def test_a_stream_joined_without_run_started_still_has_members() -> None:
    h = DiagnosticsHistory()
    diagnostics = [e for e in events(CLIP) if isinstance(e, Diagnostics)]
    h.feed(diagnostics[0])
    assert len(h.members) == 3 and h.members[0].activation == "member 1"
    assert h.depth == 6


# -- chart helpers -----------------------------------------------------------------------


def test_decimate_keeps_the_ends_and_the_budget() -> None:
    xs = list(range(1000))
    dx, dy = decimate(xs, [x * 2 for x in xs], 50)
    assert len(dx) <= 50 and dx[0] == 0 and dx[-1] == 999
    assert dy == [x * 2 for x in dx]
    assert decimate([1, 2], [3, 4], 50) == ([1, 2], [3, 4])


def test_log_points_drop_what_a_log_axis_cannot_show() -> None:
    xs, ys, dropped = log_points([1, 2, 3, 4, 5], [0.01, 0.0, None, 100.0, float("nan")])
    assert xs == [1, 4] and ys == pytest.approx([-2.0, 2.0]) and dropped == 1


class FakePlot:
    """Records the axis calls a helper makes."""

    def __init__(self) -> None:
        self.calls: dict[str, tuple[Any, ...]] = {}

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self.calls.__setitem__(name, args)


def test_decade_axis_labels_round_numbers() -> None:
    plt = FakePlot()
    decade_axis(plt, [math.log10(3e-5), math.log10(0.6)], height=30)  # type: ignore[arg-type]
    ticks, labels = plt.calls["yticks"]
    assert labels == ["1e-4", "1e-3", "1e-2", "1e-1"]
    assert ticks == [-4.0, -3.0, -2.0, -1.0]
    plt = FakePlot()
    decade_axis(plt, [math.log10(0.3), math.log10(0.9)], height=30)  # type: ignore[arg-type]
    assert plt.calls["yticks"][1] == ["0.5", "1"]  # within one decade: 1-2-5 steps


def test_iteration_axis_ticks_on_round_iterations() -> None:
    plt = FakePlot()
    iteration_axis(plt, [10, 20, 30, 40, 50, 60, 70, 80], width=80)  # type: ignore[arg-type]
    ticks, labels = plt.calls["xticks"]
    assert labels == ["10", "20", "30", "40", "50", "60", "70", "80"]


# -- integration API and behaviour -------------------------------------------------------


def test_diagnostics_tabs_share_one_history() -> None:
    tabs = diagnostics_tabs()
    assert [t for t, _ in tabs] == [
        "Gradients",
        "Saturation",
        "Functions",
        "Clipping",
        "Properties",
        "Theory",
    ]
    kinds = (
        GradientFlowView,
        SaturationView,
        ActivationFunctionsView,
        ClippingView,
        PropertiesTable,
        TheoryView,
    )
    assert all(isinstance(w, k) for (_, w), k in zip(tabs, kinds, strict=True))
    assert len({id(w.history) for _, w in tabs}) == 1
    assert len(MEMBER_COLORS) >= 5 and len(set(MEMBER_COLORS)) == len(MEMBER_COLORS)


class OneView(App[None]):
    """A bare app around one view, fed by the test itself."""

    def __init__(self, view: Widget) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        yield self.view


def test_feeding_marks_stale_and_the_pacer_paints_when_due() -> None:
    asyncio.run(_paced())


async def _paced() -> None:
    stream = events(NOCLIP)
    view = GradientFlowView()
    app = OneView(view)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        drawn: list[int] = []
        original = view.update_body

        def counting() -> None:
            drawn.append(view.history.version)
            original()

        view.update_body = counting  # type: ignore[method-assign]
        diagnostics = [e for e in stream if isinstance(e, Diagnostics)]
        view.feed_event(next(e for e in stream if isinstance(e, RunStarted)))
        view.feed_event(diagnostics[0])
        view.feed_event(diagnostics[1])
        await pilot.pause()
        assert view.stale and drawn == []  # feeding alone paints nothing
        assert view.history.latest_iteration == 20
        view._painted_at = time.monotonic()  # as if painted a moment ago: not due yet
        pace([view])
        assert drawn == [] and view.stale
        pace([view], force=True)  # a run's start or end: painted at once
        assert drawn == [view.history.version] and not view.stale
        view.feed_event(diagnostics[2])
        view.note_cost(3600 * DRAW_SHARE)  # an expensive paint: the next one waits an hour
        view._painted_at = time.monotonic() - 10 * view.pace_s  # long ago, as far as pace_s goes
        pace([view])
        assert len(drawn) == 1 and view.stale


def test_choosing_a_member_without_figures_says_not_applicable() -> None:
    asyncio.run(_not_applicable())


async def _not_applicable() -> None:
    app = DiagViewApp("saturation", "diag_noclip")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        view = app.query_one(SaturationView)
        assert view.selected_member == 0  # sigmoid: the first member where a figure applies
        app.query_one("#sat-member", Select).value = 1  # leaky_relu
        await pilot.pause()
        assert "not applicable" in str(app.query_one("#sat-na").render())
        assert not app.query_one("#sat-chart").display


def test_functions_view_follows_layer_and_member_choice() -> None:
    asyncio.run(_functions_choice())


async def _functions_choice() -> None:
    app = DiagViewApp("functions", "diag_clip")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        view = app.query_one(ActivationFunctionsView)
        layer = app.query_one("#fn-layer", Select)
        assert [v for _, v in layer._options] == list(range(6))
        layer.value = 5
        app.query_one("#fn-member", Select).value = 2
        await pilot.pause()
        assert view.selected_layer == 5
        shown = [c.display for c in app.query("#fn-grid > Chart")]
        assert shown == [False, False, True]


# -- snapshots ---------------------------------------------------------------------------

VIEWS = ["gradients", "saturation", "functions", "clipping", "properties"]
SIZES = {"80x24": (80, 24), "160x48": (160, 48)}


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("view", VIEWS)
def test_snapshot_view(snap_compare: Any, view: str, size: str) -> None:
    """Each view replaying the clipped 6-layer run."""
    assert snap_compare(DiagViewApp(view, "diag_clip"), terminal_size=SIZES[size])


@pytest.mark.parametrize("size", list(SIZES))
def test_snapshot_theory(snap_compare: Any, size: str) -> None:
    """The Theory tab: each member's mean-field figures at its init, predicted against measured
    before the first step, and the phase diagram (its critical lines drawn by a worker)."""

    async def lines_drawn(pilot: Any) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    app = DiagViewApp("theory", "theory_run")
    assert snap_compare(app, run_before=lines_drawn, terminal_size=SIZES[size])


def test_theory_view_shows_the_runs_own_theory() -> None:
    """The tab's rows are `theory_rows` of the run, measured at iteration 0, and agree with the
    theory.json `--batch --theory` wrote (one computation, two readers)."""
    from actlab.tui.widgets.diagnostics_theory import TheoryView

    stored = json.loads((FIXTURES / "theory_run" / "theory.json").read_text())
    view = TheoryView()
    for e in events(FIXTURES / "theory_run"):
        view.feed_event(e)
    assert view.first_probe is not None and view.first_probe.iteration == 0
    assert [r.activation for r in view.rows] == ["sigmoid", "tanh", "relu"]
    for row, saved in zip(view.rows, stored, strict=True):
        assert row.mean_field is not None
        assert row.mean_field.chi_1 == pytest.approx(saved["chi_1"])
        assert row.measured_ratio == pytest.approx(saved["measured_ratio"])
        assert row.predicted_ratio == pytest.approx(saved["predicted_ratio"])


def test_snapshot_clipping_off(snap_compare: Any) -> None:
    """The clipping tab of a run without clipping says so."""
    assert snap_compare(DiagViewApp("clipping", "diag_noclip"), terminal_size=(80, 24))


def test_snapshot_saturation_not_applicable(snap_compare: Any) -> None:
    """Raw inputs saturate sigmoid's first layer; leaky_relu's figures do not apply."""
    assert snap_compare(DiagViewApp("saturation", "diag_noclip"), terminal_size=(80, 24))


def test_snapshot_gradients_one_member(snap_compare: Any) -> None:
    """Every layer of sigmoid: the layers nearer the input sit decades lower."""
    # the member Select has focus: open it, go down one (to sigmoid), choose it
    assert snap_compare(
        DiagViewApp("gradients", "diag_clip"), press=["enter", "down", "enter"], terminal_size=(80, 24)
    )


def test_snapshot_functions_last_layer_narrow_range(snap_compare: Any) -> None:
    """Layer 6 of every member over z in [-2, 2], raw-input run (sigmoid piles up beyond)."""

    async def choose(pilot: Any) -> None:
        pilot.app.query_one("#fn-layer", Select).value = 2
        pilot.app.query_one("#fn-range", Select).value = 2.0
        await pilot.pause()

    assert snap_compare(DiagViewApp("functions", "diag_noclip"), run_before=choose, terminal_size=(80, 24))


def test_snapshot_all_tabs(snap_compare: Any) -> None:
    """The five views as tabs sharing one history, as the app mounts them."""
    assert snap_compare(DiagViewApp("tabs", "diag_clip"), terminal_size=(100, 30))


@pytest.mark.parametrize("view", ["functions", "properties"])
def test_snapshot_custom_members(snap_compare: Any, view: str) -> None:
    """A run with a parametric, a learned and a custom member: the custom function's curves
    and properties come from the run's own description of it (no PyTorch in this process);
    the properties' cost column is the run's measurement relative to relu."""
    assert snap_compare(DiagViewApp(view, "tui_custom"), terminal_size=(160, 48))
