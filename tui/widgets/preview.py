"""Before the first run: what will be compared. f and f' of each chosen activation, and the
registry's properties of each, so a newcomer sees the members before training them."""

from __future__ import annotations

import numpy as np
from actlab.engine.activation_lookup import lookup
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext.plot import Plot

from ..palette import member_color, rgb
from .chart import Chart
from .format import legend, swatch, tint

Z_MAX = 3.0
WIDE_AT = 100  # columns from which each member's lesson is shown under its properties
Y_RANGE = (-1.2, 1.6)  # every f' and the interesting part of every f (relu's grows past it)


class ComparisonPreview(Vertical):
    """The chosen activations' curves and properties; `show(activations)` updates it."""

    DEFAULT_CSS = """
    ComparisonPreview {
        height: 1fr;
    }
    ComparisonPreview > #preview-legend, ComparisonPreview > #preview-properties {
        height: auto;
        padding: 0 1;
    }
    ComparisonPreview > #preview-properties {
        max-height: 40%;
    }
    """

    def __init__(self, activations: tuple[str, ...] = (), *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.activations = tuple(a for a in activations if lookup(a) is not None)

    def compose(self) -> ComposeResult:
        yield Static(id="preview-legend")
        yield Chart(self._paint, id="preview-chart")
        yield Static(id="preview-properties")

    def on_mount(self) -> None:
        self.show(self.activations)

    def show(self, activations: tuple[str, ...]) -> None:
        self.activations = tuple(a for a in activations if lookup(a) is not None)
        names = [swatch(member_color(m), name) for m, name in enumerate(self.activations)]
        self.query_one("#preview-legend", Static).update(legend(*names, "f bright, f' pale"))
        self.query_one("#preview-properties", Static).update(self._properties())
        self.query_one(Chart).refresh()

    def on_resize(self) -> None:
        self.query_one("#preview-properties", Static).update(self._properties())

    def _paint(self, plt: Plot, width: int, height: int) -> None:
        z = np.linspace(-Z_MAX, Z_MAX, max(16, 2 * width))
        for m, name in enumerate(self.activations):
            act = lookup(name)
            if act is None:
                continue
            a = act.numpy_fn(z)
            color = member_color(m)
            plt.plot(z.tolist(), a.tolist(), color=rgb(color), marker="braille")
            plt.plot(z.tolist(), act.numpy_derivative(z, a).tolist(), color=tint(color), marker="braille")
        plt.ylim(*Y_RANGE)
        plt.yticks([-1.0, -0.5, 0.0, 0.5, 1.0, 1.5], ["-1", "-0.5", "0", "0.5", "1", "1.5"])
        plt.xticks([-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0], ["-3", "-2", "-1", "0", "1", "2", "3"])
        plt.xlabel("z (pre-activation)")

    def _properties(self) -> Text:
        out = Text()
        for m, name in enumerate(self.activations):
            act = lookup(name)
            if act is None:
                continue
            traits = [
                f"range {act.output_range}",
                "zero-centred" if act.zero_centred else "not zero-centred",
                "saturates" if act.saturating else "does not saturate",
                "can die" if act.can_die else "cannot die",
                *([] if act.monotone else ["not monotone"]),
                f"max f' {act.max_derivative:g}",
                f"cost {act.cost}",
            ]
            if m:
                out.append("\n")
            out.append(f"{name}: ", style=f"bold {member_color(m)}")
            out.append(" · ".join(traits), style="dim")
            if self.size.width >= WIDE_AT:  # the lesson too, where it fits
                out.append(f". {act.note}")
        return out
