"""One line naming each member in its colour: the key to every chart's lines."""

from __future__ import annotations

from actlab.engine import RunConfig
from actlab.engine.events import Event, MemberDiverged, RunStarted
from rich.text import Text
from textual.widgets import Static

from ..palette import member_color
from .format import update_text


class MemberLegend(Static):
    """'━━ sigmoid (baseline)  ━━ tanh  ━━ relu', updated from the run's events."""

    DEFAULT_CSS = """
    MemberLegend {
        height: auto;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.members: list[str] = []
        self.baseline: str | None = None
        self.diverged: dict[int, int] = {}

    def feed_event(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.members, self.baseline, self.diverged = list(event.members), event.baseline, {}
            self._show()
        elif isinstance(event, MemberDiverged):
            self.diverged[event.member] = event.iteration
            self._show()

    def clear_view(self) -> None:
        self.members, self.baseline, self.diverged = [], None, {}
        self._show()

    def prepare(self, config: RunConfig) -> None:
        """The members of a run about to start, shown before its first event arrives."""
        self.members, self.baseline, self.diverged = list(config.activations), config.baseline, {}
        self._show()

    def _show(self) -> None:
        text = Text()
        for m, name in enumerate(self.members):
            if m:
                text.append("  ")
            text.append("━━ ", style=member_color(m))
            text.append(name, style=f"bold {member_color(m)}")
            if name == self.baseline and len(self.members) > 1:
                text.append(" (baseline)", style="dim")
            if m in self.diverged:
                text.append(f" (diverged at {self.diverged[m]})", style="dim")
        update_text(self, text)
