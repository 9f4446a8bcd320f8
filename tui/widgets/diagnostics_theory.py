"""Theory beside measurement: what mean-field signal propagation predicts for each member at its
initialization, next to what the diagnostics probe measured before the first step.

The table is `experiments.theory.theory_rows` (q*, chi_1 and its phase, xi_c, the trainable
depth 6 xi_c, and the ratio of gradient norms between the first and the last hidden layer,
predicted and measured); the chart is the phase diagram: sigma_w^2 against sigma_b^2 with each
activation's chi_1 = 1 line (ordered below it: gradients vanish; chaotic above: they explode)
and a marker where each member's init sits. Plain NumPy through `engine.meanfield`: the app's
process loads no PyTorch. The critical lines take a fraction of a second each, so they are
computed in a thread worker and drawn when ready.
"""

from __future__ import annotations

import math

from actlab.engine.config import ConfigError, RunConfig
from actlab.engine.events import Diagnostics, Event, RunStarted
from actlab.engine.experiments.theory import MemberTheory, theory_rows
from actlab.engine.meanfield import critical_line
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static
from textual_plotext.plot import Plot

from ..palette import member_color, rgb
from .chart import FixedChart
from .diagnostics_base import DiagnosticsView
from .diagnostics_history import DiagnosticsHistory
from .format import decade_axis

COLUMNS = ("member", "σw²,σb²", "q*", "χ1", "phase", "ξc", "6ξc", "pred", "meas", "m/p")
GRID_POINTS = 11
PHASE_STYLE = {"ordered": "cyan", "critical": "bold green", "chaotic": "magenta", "unknown": "dim"}


def _g(v: float | None, digits: int = 3) -> str:
    if v is None or math.isnan(v):
        return "-"
    if math.isinf(v):
        return "inf"
    if v != 0 and not 1e-3 <= abs(v) < 1e4:
        return f"{v:.1e}"
    return f"{v:.{digits}g}"


class PhaseChart(FixedChart):
    """sigma_w^2 (log) against sigma_b^2: the chi_1 = 1 line of each activation, and the members."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: list[tuple[str, str, list[tuple[float, float | None]]]] = []  # label, colour, line
        self.marks: list[tuple[str, float, float]] = []  # colour, sigma_b^2, sigma_w^2

    def show(
        self,
        lines: list[tuple[str, str, list[tuple[float, float | None]]]],
        marks: list[tuple[str, float, float]],
    ) -> None:
        self.lines, self.marks = lines, marks
        self.shown()

    def empty_text(self) -> str | None:
        return None if self.lines or self.marks else "computing the critical lines..."

    def paint_plot(self, plt: Plot, width: int, height: int) -> None:
        logs = [math.log10(w) for _, _, line in self.lines for _, w in line if w]
        logs += [math.log10(w) for _, _, w in self.marks if w > 0]
        decade_axis(plt, logs, height)
        xs = [b for _, _, line in self.lines for b, _ in line] + [b for _, b, _ in self.marks]
        if xs:
            plt.xlim(0, max(xs) * 1.05 or 1.0)
        for _label, colour, line in self.lines:
            pts = [(b, math.log10(w)) for b, w in line if w]
            if pts:
                plt.plot([p[0] for p in pts], [p[1] for p in pts], color=rgb(colour), marker="braille")
        for colour, b, w in self.marks:
            if w > 0:
                plt.scatter([b], [math.log10(w)], color=rgb(colour), marker="●")
        plt.xlabel("σb²: a line χ1 = 1 (above: chaotic, below: ordered); a dot: a member's init")


class TheoryView(DiagnosticsView):
    """Per member the mean-field figures at its init, predicted against measured, and the phase
    diagram with each member on it."""

    DEFAULT_CSS = """
    TheoryView #theory-table {
        height: auto;
        max-height: 12;
    }
    TheoryView #theory-note {
        height: auto;
        padding: 0 1;
        color: $text-muted;
    }
    TheoryView #theory-left {
        height: auto;
    }
    TheoryView.-wide #theory-left {
        width: 3fr;
        height: 1fr;
    }
    TheoryView.-wide #theory-chart {
        width: 2fr;
    }
    TheoryView #theory-chart {
        min-height: 8;
    }
    """

    def __init__(
        self,
        history: DiagnosticsHistory | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(history, name=name, id=id, classes=classes)
        self.started: RunStarted | None = None
        self.first_probe: Diagnostics | None = None
        self.rows: list[MemberTheory] = []
        self._lines_for: tuple[str, ...] | None = None

    def compose_body(self) -> ComposeResult:
        with Vertical(classes="diag-charts"):
            with Vertical(id="theory-left"):
                yield DataTable(id="theory-table", cursor_type="none", zebra_stripes=True)
                yield Static("", id="theory-note")
            yield PhaseChart(id="theory-chart")

    def feed_event(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.started, self.first_probe, self.rows = event, None, []
        elif isinstance(event, Diagnostics) and self.first_probe is None:
            self.first_probe = event
        else:
            super().feed_event(event)
            return
        self.rows = self._compute()
        super().feed_event(event)
        self.mark_stale()

    def clear_view(self) -> None:
        self.started, self.first_probe, self.rows = None, None, []
        self.mark_stale()

    def _compute(self) -> list[MemberTheory]:
        s = self.started
        if s is None:
            return []
        try:
            config = RunConfig.from_dict(s.config)
        except (ConfigError, TypeError):
            return []
        settings = None if s.cohort is None else s.cohort.get("member_settings")
        n_features = s.layer_sizes[0] if s.layer_sizes else 784
        return theory_rows(
            config,
            members=s.members,
            member_settings=settings,
            diagnostics=self.first_probe,
            descriptions=s.custom_activations,
            n_features=n_features,
            input_mean_square=s.input_mean_square,
        )

    def empty_message(self) -> str | None:
        if self.started is None:
            return "No run yet: the theory of each member appears when a run starts (before its first step)."
        return None

    def update_body(self) -> None:
        table: DataTable[Text | str] = self.query_one("#theory-table", DataTable)
        table.clear(columns=True)
        table.add_columns(*COLUMNS)
        for i, r in enumerate(self.rows):
            mf = r.mean_field
            colour = member_color(i)
            if mf is None:
                table.add_row(Text(r.activation, style=f"bold {colour}"), r.reasons or "-")
                continue
            phase = Text(mf.phase, style=PHASE_STYLE.get(mf.phase, ""))
            table.add_row(
                Text(r.activation, style=f"bold {colour}"),
                f"{mf.sigma_w2:.3g},{mf.sigma_b2:.2g}",
                _g(mf.q_star),
                _g(mf.chi_1),
                phase,
                _g(mf.xi_c),
                _g(mf.trainable_depth),
                _g(r.predicted_ratio),
                _g(r.measured_ratio),
                _g(r.quotient),
            )
        self.query_one("#theory-note", Static).update(self._note())
        self._draw_lines()
        super().update_body()

    def _note(self) -> str:
        s = self.started
        depth = len(s.layer_sizes) - 2 if s is not None and len(s.layer_sizes) >= 2 else "?"
        probe = self.first_probe
        if probe is None:
            when = (
                "measured: waiting for the first diagnostics probe"
                if s and s.diagnostics_every
                else ("measured: diagnostics are off for this run")
            )
        elif probe.iteration == 0:
            when = "measured at initialization (the probe before the first step)"
        else:
            when = (
                f"measured at the first probe, iteration {probe.iteration} (this run has none before "
                "its first step)"
            )
        return (
            f"pred, meas: |grad W1| / |grad W{depth}| of this {depth}-layer net at initialization, "
            f"predicted by mean-field theory and {when} (each probe image's own gradient, rms); m/p "
            "their quotient. χ1 < 1: gradients vanish layer by layer, > 1: they explode. 6ξc: the "
            "depth the theory expects to train (Schoenholz et al. 2017)."
        )

    def _draw_lines(self) -> None:
        """The critical lines of the members' activations, in a worker (a fraction of a second
        each); the markers at once."""
        chart = self.query_one(PhaseChart)
        marks = [
            (member_color(i), r.mean_field.sigma_b2, r.mean_field.sigma_w2)
            for i, r in enumerate(self.rows)
            if r.mean_field is not None
        ]
        specs = tuple(dict.fromkeys(r.activation for r in self.rows if r.mean_field is not None))
        if specs == self._lines_for:
            chart.show(chart.lines, marks)
            return
        self._lines_for = specs
        top = max([0.5, *(1.3 * b for _, b, _ in marks)])
        # from just above 0: at sigma_b^2 = 0 some functions have two fixed points (q0 decides)
        grid = [top * (0.01 + 0.99 * k / (GRID_POINTS - 1)) for k in range(GRID_POINTS)]
        first = {a: next(i for i, r in enumerate(self.rows) if r.activation == a) for a in specs}

        def compute() -> None:
            lines = []
            for a in specs:
                try:
                    lines.append((a, member_color(first[a]), critical_line(a, grid)))
                except (ValueError, LookupError):  # a function the theory cannot read: no line
                    continue
            self.app.call_from_thread(chart.show, lines, marks)

        chart.show([], marks)
        self.run_worker(compute, thread=True, exclusive=True, group="theory-lines")
