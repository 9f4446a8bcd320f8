"""Where the units sit on the curve: f and f' with the measured pre-activations behind them.

One small chart per member: its activation f (left axis) and derivative f' (right axis,
from 0 to at least 1, so sigmoid's 1/4 looks as small as it is), over a chosen z range, on
top of the histogram of the chosen layer's pre-activations z from the latest probe. Mass
under the flat ends of f means saturated units; mass left of zero under ReLU, dead ones.
"""

from __future__ import annotations

import functools

import numpy as np
from actlab.engine.activation_lookup import lookup
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Container, Horizontal
from textual.widgets import Select, Static
from textual_plotext.plot import Plot

from ..palette import member_color, rgb
from .chart import Chart
from .diagnostics_base import HISTOGRAM_COLOR, WIDE_AT, DiagnosticsView
from .format import legend, set_select, swatch, tint

ALL_MEMBERS = -1
BAR_SHARE = 0.6  # the tallest histogram bar reaches this share of the chart height
Z_RANGES = (6.0, 4.0, 2.0)  # the engine's histogram spans [-6, 6]; z beyond is piled into its end bins


@functools.lru_cache(maxsize=64)
def curves(activation: str, z_max: float, points: int) -> tuple[list[float], list[float], list[float]]:
    """(z, f(z), f'(z)) on `points` evenly spaced z in [-z_max, z_max], from the registry (or
    a custom activation's measured curves)."""
    act = lookup(activation)
    if act is None:
        return [], [], []
    z = np.linspace(-z_max, z_max, points, dtype=np.float64)
    a = act.numpy_fn(z)
    d = act.numpy_derivative(z, a)
    return z.tolist(), a.tolist(), d.tolist()


class ActivationFunctionsView(DiagnosticsView):
    """f and f' per member with the chosen layer's pre-activation histogram overlaid."""

    DEFAULT_CSS = """
    ActivationFunctionsView #fn-grid {
        layout: grid;
        grid-size: 2;
        grid-gutter: 0 1;
        height: 1fr;
    }
    ActivationFunctionsView #fn-grid > Chart {
        height: 1fr;
        min-height: 5;
    }
    ActivationFunctionsView #fn-layer {
        width: 12;
    }
    ActivationFunctionsView #fn-member {
        width: 18;
    }
    ActivationFunctionsView #fn-range {
        width: 16;
    }
    """

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="diag-controls"):
            yield Static("Layer")
            yield Select([("1", 0)], value=0, allow_blank=False, compact=True, id="fn-layer")
            yield Static("Show")
            yield Select(
                [("all members", ALL_MEMBERS)],
                value=ALL_MEMBERS,
                allow_blank=False,
                compact=True,
                id="fn-member",
            )
            yield Static("z in")
            yield Select(
                [(f"[-{r:g}, {r:g}]", r) for r in Z_RANGES],
                value=Z_RANGES[0],
                allow_blank=False,
                compact=True,
                id="fn-range",
            )
        yield Container(id="fn-grid")
        yield Static("", classes="diag-legend", id="fn-legend")

    # -- selections --------------------------------------------------------------------

    @property
    def selected_layer(self) -> int:
        value = self.query_one("#fn-layer", Select).value
        return value if isinstance(value, int) and value < max(1, self.history.depth) else 0

    @property
    def selected_member(self) -> int:
        value = self.query_one("#fn-member", Select).value
        return value if isinstance(value, int) and value < len(self.history.members) else ALL_MEMBERS

    @property
    def z_max(self) -> float:
        value = self.query_one("#fn-range", Select).value
        return float(value) if isinstance(value, (int, float)) else Z_RANGES[0]

    @on(Select.Changed)
    def _selection_changed(self, event: Select.Changed) -> None:
        event.stop()
        self.redraw()

    # -- drawing -----------------------------------------------------------------------

    def update_body(self) -> None:
        h = self.history
        self._sync_options()
        grid = self.query_one("#fn-grid", Container)
        names = [m.activation for m in h.members]
        if names != getattr(self, "_chart_names", None):
            # a new run: one chart per member, painted by member index
            self._chart_names = names
            grid.remove_children()
            grid.mount_all(Chart(functools.partial(self._paint, m.index)) for m in h.members)
        self._layout_grid()
        layer = self.selected_layer
        self.query_one("#fn-legend", Static).update(
            legend(
                Text("━━ f (left axis)  ")
                + Text("━━", style="rgb({},{},{})".format(*tint(member_color(0))))
                + Text(" f' (right axis)"),
                swatch(
                    HISTOGRAM_COLOR,
                    f"layer {layer + 1} pre-activations z, probe at iteration {h.latest_iteration}",
                    "██",
                ),
            )
        )
        super().update_body()

    def _sync_options(self) -> None:
        h = self.history
        key = (h.depth, tuple(m.activation for m in h.members))
        if key == getattr(self, "_options_key", None):
            return
        self._options_key = key
        layer = self.query_one("#fn-layer", Select)
        set_select(layer, [(str(i + 1), i) for i in range(max(1, h.depth))], layer.value)
        members = [("all members", ALL_MEMBERS)] + [(m.activation, m.index) for m in h.members]
        set_select(self.query_one("#fn-member", Select), members, ALL_MEMBERS)

    def _layout_grid(self) -> None:
        grid = self.query_one("#fn-grid", Container)
        sel = self.selected_member
        charts = list(grid.query(Chart))
        for i, chart in enumerate(charts):
            chart.display = sel == ALL_MEMBERS or sel == i
        shown = 1 if sel != ALL_MEMBERS else max(1, len(charts))
        wide = self.size.width >= WIDE_AT
        if shown == 1:
            columns = 1
        elif wide:
            columns = shown if shown <= 3 else (2 if shown == 4 else 3)
        else:
            columns = 2  # 80 columns: two charts across is the narrowest that stays readable
        grid.styles.grid_size_columns = columns

    @on(events.Resize)
    def _grid_for_width(self) -> None:
        # (Textual also runs DiagnosticsView.on_resize: handlers run for every class in the MRO)
        if self.is_mounted and self.query_one(".diag-body").display:
            self._layout_grid()

    def _paint(self, index: int, plt: Plot, width: int, height: int) -> None:
        h = self.history
        if index >= len(h.members):
            return
        m = h.members[index]
        act = lookup(m.activation)
        layer = self.selected_layer
        z_max = self.z_max
        title = f"{m.activation}, layer {layer + 1}"
        if m.diverged_at is not None:
            title += f" (diverged at {m.diverged_at})"
        if act is None:
            plt.title(f"{m.activation}: its curves are not known here")
            return
        z, f, d = curves(act.name, z_max, max(16, 2 * width))  # braille: two points per column
        slopes = m.prelu_slopes or []
        learned = slopes[layer] if act.kind == "learned" and layer < len(slopes) else None
        if learned is not None:
            slope = learned  # the slope this layer learned, not the starting one
            f = [v if v > 0 else slope * v for v in z]
            d = [1.0 if v > 0 else slope for v in z]
            title += f", slope {slope:.3g}"
        f_lo, f_hi = min(min(f), 0.0), max(f)
        pad = 0.05 * (f_hi - f_lo or 1.0)
        f_lo, f_hi = f_lo - pad, f_hi + pad
        hist = m.layers[layer].preact_hist if layer < m.depth else []
        edges = h.hist_edges
        if hist and len(edges) == len(hist) + 1:
            centres = [(edges[i] + edges[i + 1]) / 2 for i in range(len(hist))]
            inside = [(c, p) for c, p in zip(centres, hist, strict=True) if -z_max < c < z_max]
            outside = sum(p for c, p in zip(centres, hist, strict=True) if not -z_max < c < z_max)
            tallest = max((p for _, p in inside), default=0.0)
            if tallest > 0:
                # bars scaled to the lower part of the f axis: the top stays clear for the curves
                xs = [c for c, _ in inside]
                ys = [f_lo + BAR_SHARE * (f_hi - f_lo) * p / tallest for _, p in inside]
                plt.bar(xs, ys, minimum=f_lo, width=0.8, color=rgb(HISTOGRAM_COLOR), reset_ticks=False)
            if outside >= 0.005:
                title += f"; {outside:.0%} of z beyond ±{z_max:g}"
        plt.plot(z, f, color=rgb(member_color(m.index)), marker="braille")
        plt.plot(z, d, color=tint(member_color(m.index)), marker="braille", yside="right")
        plt.xlim(-z_max, z_max)
        plt.ylim(f_lo, f_hi)
        plt.ylim(0, max(1.0, max(d)) * 1.05, yside="right")  # type: ignore[arg-type]  # the stub mistypes yside
        plt.title(title)
