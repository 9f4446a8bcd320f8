"""Paired statements, one sentence each, with the verdict that ends each one picked out."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

VERDICTS = (
    ("clearly faster", "bold green"),
    ("clearly slower", "bold red"),
    ("not a clear difference", "yellow"),
    ("so no ratio", "dim"),
    ("one seed, no interval", "dim"),
)


def statement_text(statement: str, prefix: str = "") -> Text:
    """'relu reaches 0.9 faster than tanh in 3 of 3 seeds: x1.30 [0.90, 1.70]; not a clear
    difference', with the verdict in its colour and an optional prefix (the point) dimmed."""
    text = Text()
    if prefix:
        text.append(prefix, style="dim")
    text.append(statement)
    for words, style in VERDICTS:
        text.highlight_words([words], style=style)
    return text


class Statements(Static):
    """A list of statements under optional group headings, or a line saying there are none."""

    DEFAULT_CSS = """
    Statements {
        height: auto;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.statements: list[str] = []  # what is shown, without the headings

    def show(self, groups: Sequence[tuple[str, Sequence[str]]], empty: str) -> None:
        """groups: (heading, statements); a heading "" puts its statements under no heading."""
        self.statements = [s for _, statements in groups for s in statements]
        out = Text()
        for heading, statements in groups:
            if not statements:
                continue
            if out:
                out.append("\n")
            if heading:
                out.append(heading + "\n", style="bold")
            for s in statements:
                out.append("• ", style="dim")
                out.append(statement_text(s))
                out.append("\n")
        if not out:
            self.update(Text(empty, style="dim"))
            return
        out.rstrip()
        self.update(out)
