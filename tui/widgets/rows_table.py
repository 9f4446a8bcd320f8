"""A read-only table filled from the rows the batch tables print (`actlab.engine.report`).

The sweep, seeds and compare views show the same rows as `--batch` and `compare`, built by
the same functions, so the app and the terminal agree by construction. Labels go left,
figures right; an activation's name is written in its member colour (`palette`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from rich.text import Text
from textual.widgets import DataTable

Justify = Literal["left", "right"]
Styler = Callable[[int, int, str], str]  # (row, column, cell) -> a rich style ("" for none)


class RowsTable(DataTable[Any]):
    """Rows of strings (the first the header), with a key per row for selection."""

    DEFAULT_CSS = """
    RowsTable {
        height: auto;
    }
    """

    def __init__(
        self, *, id: str | None = None, classes: str | None = None, cursor_type: str = "row"
    ) -> None:
        super().__init__(id=id, classes=classes, zebra_stripes=True, cursor_type=cursor_type)  # type: ignore[arg-type]

    def fill(
        self,
        rows: Sequence[Sequence[str]],
        *,
        left: int = 1,
        keys: Sequence[str] | None = None,
        style: Styler | None = None,
        header_style: Callable[[int, str], str] | None = None,
    ) -> None:
        """Replace the table's contents: `rows[0]` is the header; the first `left` columns
        are labels (left-aligned); `keys` name the other rows (default: their index)."""
        self.clear(columns=True)
        if not rows:
            return
        for c, label in enumerate(rows[0]):
            head_style = header_style(c, label) if header_style else ""
            self.add_column(Text(label, style=head_style, justify=_justify(c, left)), key=str(c))
        for r, row in enumerate(rows[1:]):
            cells = []
            for c, cell in enumerate(row):
                cell_style = style(r, c, cell) if style else ""
                cells.append(Text(cell, style=cell_style, justify=_justify(c, left)))
            self.add_row(*cells, key=keys[r] if keys is not None else str(r))


def _justify(column: int, left: int) -> Justify:
    return "left" if column < left else "right"
