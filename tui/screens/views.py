"""What the sweep, seeds and compare views share: a title line, tabs, keys and a way back."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane, Tabs

from .lab import LabScreen, display_path
from .replay import RunScreen


class SavedScreen(Screen[None]):
    """A view of saved results. `back`: it was opened from another view, and escape returns
    there; the first view of the app has nowhere to go back to."""

    WIDE_AT = 150  # columns from which a view shows a second panel beside its main one
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE_AT, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", tooltip="Back to the view this one was opened from."),
    ]

    def __init__(self, back: bool = False) -> None:
        super().__init__()
        self.back = back

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return self.back  # False: not shown
        return True

    def action_back(self) -> None:
        if self.back:
            self.dismiss()

    def action_show_tab(self, tab: str) -> None:
        """Show a tab, and focus the first thing in it that takes keys (the focus left in a
        hidden tab would bring that tab back)."""
        views = self.query_one(TabbedContent)
        panes = [p for p in views.query(TabPane) if p.id == tab]
        if not panes:
            return
        views.active = tab
        focusable = [w for w in panes[0].query("*") if w.focusable]
        if focusable:
            focusable[0].focus()
        else:
            views.query_one(Tabs).focus()

    def on_resize(self, event: events.Resize) -> None:
        self.query_one(Footer).compact = event.size.width < LabScreen.WIDE_AT

    def open_run(self, directory: str | Path) -> None:
        """Replay one run in the lab, over this view."""
        app = self.app
        config = getattr(app, "config")  # noqa: B009 - ActlabApp's; a view needs no more of it
        self.app.push_screen(
            RunScreen(
                config,
                str(directory),
                getattr(app, "runs_root", None),
                getattr(app, "save_runs", True),
                getattr(app, "threads", None),
            )
        )


def where(directory: str | Path) -> str:
    return display_path(directory)
