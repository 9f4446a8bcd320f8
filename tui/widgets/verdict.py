"""The verdict of a seeds or sweep result: its recommendation on one line, then the paragraph
`verdict.verdict` generated from the figures, with what is clear and what is undecided picked
out in colour."""

from __future__ import annotations

from actlab.engine.results_model import Verdict
from rich.text import Text
from textual.widgets import Static

from ..palette import member_color

MARKS = (
    ("(clear)", "bold green"),
    ("(undecided)", "yellow"),
    ("Undecided:", "bold yellow"),
    ("But on the test split", "bold red"),
    ("does not carry over there", "red"),
)


def verdict_text(verdict: Verdict | None, names: list[str]) -> Text:
    """The recommendation (in its member colour, chosen on which split) and the paragraph."""
    if verdict is None:
        return Text("No verdict: nothing has finished yet.", style="dim")
    out = Text()
    if verdict.recommended is not None:
        colour = member_color(names.index(verdict.recommended)) if verdict.recommended in names else ""
        out.append("Recommended: ", style="bold")
        out.append(verdict.recommended, style=f"bold {colour}")
        out.append(f"  (chosen on the {verdict.chosen_on} split", style="dim")
        at = "final accuracy" if verdict.threshold is None else f"iterations to {verdict.threshold:g}"
        out.append(f", by {at})\n\n", style="dim")
    # a sentence a paragraph: the claims read one by one on a narrow terminal
    body = Text("\n\n".join(verdict.sentences) if verdict.sentences else verdict.text)
    for words, style in MARKS:
        body.highlight_words([words], style=style)
    out.append_text(body)
    return out


class VerdictPanel(Static):
    """The verdict, wrapped to the panel's width."""

    DEFAULT_CSS = """
    VerdictPanel {
        height: auto;
        padding: 1 2;
    }
    """

    shown: Text = Text()  # what the panel shows (tests read it)

    def show(self, verdict: Verdict | None, names: list[str]) -> None:
        self.shown = verdict_text(verdict, names)
        self.update(self.shown)
