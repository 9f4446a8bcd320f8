"""The registry as the slides' summary table: what each activation is and what it costs.

The run's members come first, marked in their colours; the other registered activations
follow. The cost column is measured where the run measured it (each member's epoch alone,
relative to relu's); elsewhere it is the registry's count of operations. The full note of
the highlighted row is shown under the table (the column is too narrow at 80 columns), then
the advice line.
"""

from __future__ import annotations

from actlab.engine.activation_lookup import lookup
from actlab.engine.activations import ADVICE, BUILTIN_NAMES, Activation
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from ..palette import member_color
from .diagnostics_base import WIDE_AT, DiagnosticsView

# At 80 columns the formula moves to the note under the table, so that every property fits.
WIDE_COLUMNS = (
    "",
    "function",
    "formula",
    "range",
    "zero-centred",
    "saturates",
    "can die",
    "max f'",
    "cost",
    "note",
)
NARROW_COLUMNS = ("", "function", "range", "0-centred", "saturates", "dies", "max f'", "cost")


def _yes_no(flag: bool) -> Text:
    return Text("yes" if flag else "no", style="" if flag else "dim")


class PropertiesTable(DiagnosticsView):
    """A DataTable of the activation registry with the advice line below it."""

    DEFAULT_CSS = """
    PropertiesTable #props-table {
        height: auto;
        max-height: 1fr;
    }
    PropertiesTable #props-note {
        height: auto;
        padding: 1 1 0 1;
    }
    PropertiesTable #props-advice {
        height: auto;
        padding: 1 1 0 1;
        color: $text-accent;
        text-style: bold;
    }
    """

    def compose_body(self) -> ComposeResult:
        table: DataTable[Text | str] = DataTable(id="props-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="props-note")
        yield Static(f"Advice: {ADVICE}", id="props-advice")

    def empty_message(self) -> str | None:
        return None  # the registry is worth reading before any run

    def ordered(self) -> list[tuple[int | None, Activation]]:
        """(member index or None, activation): the run's members first, then the rest."""
        seen: set[str] = set()
        rows: list[tuple[int | None, Activation]] = []
        for m in self.history.members:
            act = lookup(m.activation)
            if act is not None and act.name not in seen:
                rows.append((m.index, act))
                seen.add(act.name)
        for name in BUILTIN_NAMES:
            act = lookup(name)
            if act is not None and name not in seen:
                rows.append((None, act))
        return rows

    def cost(self, index: int | None, act: Activation) -> str:
        """The member's measured cost relative to relu where the run has it."""
        if index is not None and index < len(self.history.members):
            ratio = self.history.members[index].cost_vs_relu
            if ratio is not None:
                return f"x{ratio:.2f} relu"
        return act.cost

    @property
    def wide(self) -> bool:
        return self.size.width >= WIDE_AT

    def update_body(self) -> None:
        key = (
            tuple((m.activation, m.cost_vs_relu, tuple(m.prelu_slopes or ())) for m in self.history.members),
            self.wide,
        )
        if key == getattr(self, "_rows_key", None):
            return
        self._rows_key = key
        table: DataTable[Text | str] = self.query_one("#props-table", DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        table.add_columns(*(WIDE_COLUMNS if self.wide else NARROW_COLUMNS))
        for index, act in self.ordered():
            mark = Text("●", style=member_color(index)) if index is not None else Text("")
            name = Text(act.name, style=f"bold {member_color(index)}" if index is not None else "")
            flags = (
                act.output_range,
                _yes_no(act.zero_centred),
                _yes_no(act.saturating),
                _yes_no(act.can_die),
                f"{act.max_derivative:g}",
                self.cost(index, act),
            )
            if self.wide:
                table.add_row(mark, name, act.formula, *flags, act.note, key=act.name)
            else:
                table.add_row(mark, name, *flags, key=act.name)
        table.move_cursor(row=min(row, table.row_count - 1))
        self._show_note(table.cursor_row)

    @on(events.Resize)
    def _columns_for_width(self) -> None:
        # (DiagnosticsView.on_resize runs as well: Textual calls the handler of every class)
        if self.is_mounted:
            self.update_body()

    @on(DataTable.RowHighlighted, "#props-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_note(event.cursor_row)

    def _show_note(self, row: int) -> None:
        rows = self.ordered()
        if not 0 <= row < len(rows):
            return
        index, act = rows[row]
        extra = "" if act.monotone else "  Not monotone."
        if index is not None and index < len(self.history.members):
            slopes = self.history.members[index].prelu_slopes
            if slopes:
                listed = ", ".join("-" if v is None else f"{v:.3f}" for v in slopes)
                extra += f"  Learned slope per layer: {listed}."
        self.query_one("#props-note", Static).update(
            Text.assemble(
                (f"{act.name}", "bold"),
                f" = {act.formula}: ",
                act.note,
                extra,
                (f"  Recommended init: {act.recommended_init}.", "dim"),
            )
        )
