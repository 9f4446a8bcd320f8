"""Which activation wins where: a sweep's heatmap as a grid of coloured cells.

Rows are the combinations of every axis but the last, columns the last axis' values; each
cell is filled with the colour of its winner (the fewest iterations to the heatmap's
threshold, in every seed), the member colour the lab uses for that activation. Cells are
three lines tall (winner, iterations, runner-up) where the terminal has room, one otherwise.
"""

from __future__ import annotations

from actlab.engine.experiments.report import fixed_text, setting_text
from actlab.engine.results_model import HeatmapCell, HeatmapRow, SweepResults
from rich.text import Text
from textual.app import RenderResult
from textual.geometry import Size
from textual.widget import Widget

from ..palette import member_color

MAX_CELL = 26  # columns: a wider cell says nothing more
INK = "#101010"  # text on a member colour: dark reads on every colour of the palette
CHROME = 8  # lines the screen keeps for itself around the grid (title, tabs, caption, footer)


class WinsGrid(Widget):
    """The heatmap of `sweep_results`; `cell_at(row, column)` says what a cell holds."""

    DEFAULT_CSS = """
    WinsGrid {
        height: auto;
        width: auto;
        padding: 0 1;
    }
    """

    def __init__(self, results: SweepResults, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.heatmap = results.heatmap
        self.activations: list[str] = list(results.activations)
        self.tall = True

    # --- geometry ------------------------------------------------------------------------------

    @property
    def row_labels(self) -> list[str]:
        return [",".join(f"{n}={setting_text(v)}" for n, v in r.values.items()) for r in self._rows()]

    @property
    def column_labels(self) -> list[str]:
        h = self.heatmap
        return [] if h is None else [f"{h.column_axis}={setting_text(v)}" for v in h.columns]

    def _label_width(self) -> int:
        return max([len(x) for x in self.row_labels] + [0]) + 1

    def _min_cell(self) -> int:
        cells = [c for r in self._rows() for c in r.cells]
        texts = [t for c in cells for t in self.lines(c, True)] + [
            " ".join(self.lines(c, False)) for c in cells
        ]
        texts += self.column_labels
        return max([len(t) for t in texts] + [6]) + 2

    def _rows(self) -> list[HeatmapRow]:
        return [] if self.heatmap is None else self.heatmap.rows

    def _cell_width(self, width: int) -> int:
        columns = max(1, len(self.column_labels))
        room = (width - self._label_width()) // columns - 1
        return max(self._min_cell(), min(MAX_CELL, room))

    def get_content_width(self, container: Size, viewport: Size) -> int:
        natural = self._label_width() + len(self.column_labels) * (self._min_cell() + 1)
        return max(natural, container.width - 2)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        rows = len(self._rows())
        self.tall = 1 + 4 * rows <= viewport.height - CHROME
        return 1 + (4 * rows - 1 if self.tall else rows)

    # --- content -------------------------------------------------------------------------------

    def lines(self, cell: HeatmapCell, tall: bool) -> list[str]:
        """What a cell says: tall, on up to three lines; else on one."""
        if cell.state == "unfinished":
            return ["(unfinished)"]
        if cell.winner is None:
            return ["-", "none reached"] if tall else ["-"]
        it = fixed_text(cell.iterations, 0)
        if not tall:
            return [cell.winner, it]
        out = [cell.winner, f"{it} it"]
        if cell.runner_up:
            out.append(f"next {cell.runner_up} {fixed_text(cell.runner_up_iterations, 0)}")
        return out

    def style_of(self, cell: HeatmapCell) -> str:
        winner = cell.winner
        if winner is None:
            return "dim"
        colour = member_color(self.activations.index(winner)) if winner in self.activations else "grey50"
        return f"bold {INK} on {colour}"

    def cell_at(self, row: int, column: int) -> HeatmapCell:
        return self._rows()[row].cells[column]

    def render(self) -> RenderResult:
        if self.heatmap is None:
            return Text("no heatmap: this sweep has no axes", style="dim")
        width = self.content_region.width or self.size.width
        lw, cw = self._label_width(), self._cell_width(width)
        tall = self.tall
        out = Text(no_wrap=True, overflow="crop")
        out.append(" " * lw)
        for label in self.column_labels:
            out.append(" " + label.center(cw), style="bold")
        for r, (label, row) in enumerate(zip(self.row_labels, self._rows())):
            height = 3 if tall else 1
            if tall and r:
                out.append("\n")
            cells = [self.lines(c, tall) for c in row.cells]
            for line in range(height):
                k = 0
                out.append("\n")
                out.append((label if line == height // 2 else "").ljust(lw), style="bold")
                for c, cell in enumerate(row.cells):
                    parts = cells[c]
                    if not tall:
                        text = " ".join(parts)
                    else:  # centred vertically: one line on the middle, two from the top
                        top = 1 if len(parts) == 1 else 0
                        k = line - top
                        text = parts[k] if 0 <= k < len(parts) else ""
                    style = self.style_of(cell)
                    if tall and k == 2 and style.startswith("bold"):
                        style = style.replace("bold ", "")  # the runner-up, quieter
                    out.append(" ")
                    out.append(text.center(cw), style=style)
        return out


def wins_legend(activations: list[str]) -> Text:
    """'█ sigmoid  █ tanh  █ relu': the key to the grid's colours."""
    out = Text()
    for i, name in enumerate(activations):
        if i:
            out.append("  ")
        out.append("██", style=member_color(i))
        out.append(f" {name}")
    return out
