"""The status line: state, data actually used, device, progress, speed, elapsed, run folder."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ..state import Phase, RunStatus
from .format import update_text
from .pacing import Paced


class StatusLine(Paced, Static):
    """Renders the screen's RunStatus: `show(status)` now, or `mark_stale()` for the pacer."""

    DEFAULT_CSS = """
    StatusLine {
        height: auto;
        max-height: 3;
        padding: 0 1;
        background: $panel;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.status = RunStatus()

    def show(self, status: RunStatus) -> None:
        self.status = status
        self.paint_now()

    def paint(self) -> None:
        status = self.status
        text = Text()
        phase_style = {
            Phase.FAILED: "bold red",
            Phase.PAUSED: "bold yellow",
            Phase.TRAINING: "bold green",
        }.get(status.phase, "bold")
        for i, part in enumerate(status.parts()):
            if i:
                text.append(" · ", style="dim")
            text.append(part, style=phase_style if i == 0 else "")
        if status.run_dir:
            text.append(" · ", style="dim")
            text.append("from " if status.replayed else "saved in ", style="dim")
            text.append(status.run_dir)
        if status.notice:
            text.append("\n")
            text.append(f"note: {status.notice}", style="yellow")
        if status.error:
            text.append("\n")
            text.append(f"error: {status.error}", style="bold red")
        update_text(self, text)  # several times a second: a layout pass only if the height changes
