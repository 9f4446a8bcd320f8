"""The lab's members, added or removed one at a time (the command palette): a registry entry at
once, the user's own function after a helper process has checked it, and what a served app (a
browser) may run at all. A mixin of LabScreen, which holds the state it reads."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from actlab.engine.config import ConfigError, RunConfig
from textual import work
from textual.screen import Screen

from ..state import Phase
from ..widgets.controls import ControlsPanel

if TYPE_CHECKING:  # for the type checker the mixin is the screen it is mixed into
    _Base = Screen[None]
else:
    _Base = object


class MemberEditing(_Base):
    """Adds and removes members of the comparison in the form; LabScreen mixes it in."""

    if TYPE_CHECKING:  # LabScreen's, set in its __init__ (phase is its reactive)
        phase: Phase
        initial_config: RunConfig
        _leaving: threading.Event

    def toggle_member(self, activation: str) -> None:
        """Add or remove an activation from the comparison (the command palette uses this)."""
        if self.phase.active:
            self.notify("Settings are locked while a run is going; stop it first.", severity="warning")
            return
        self.query_one(ControlsPanel).toggle_activation(activation)

    def _refused_in_browser(self, config: RunConfig) -> str | None:
        """In a served app, the first member that would import code the server was not given
        (a saved run's settings could name any); None when all may run."""
        from actlab.engine.activations import member_spec

        if not getattr(self.app, "served", False):
            return None
        for spec in config.activations:
            ms = member_spec(spec)
            if ms.kind == "custom" and ms.entry_point is None and spec not in self.initial_config.activations:
                return spec
        return None

    def add_member_spec(self, spec: str) -> None:
        """Add a member by spec (the palette): a registry entry with parameters at once; the
        user's function after a helper process has checked and measured it. A served app
        (a browser) may add only what the server's command line named or packages register."""
        from actlab.engine.activations import SpecError, member_spec

        if self.phase.active:
            self.notify("Settings are locked while a run is going; stop it first.", severity="warning")
            return
        try:
            ms = member_spec(spec)
        except SpecError as exc:
            self.notify(str(exc), title="Not added", severity="error")
            return
        if ms.kind == "custom" and ms.entry_point is None:
            if getattr(self.app, "served", False) and ms.name not in self.initial_config.activations:
                self.notify(
                    f"activation {ms.name!r}: a served lab adds only the activations the server was "
                    "started with or that installed packages register",
                    title="Not added",
                    severity="error",
                )
                return
            self.notify(f"Checking {ms.name}...", timeout=2)
            self._describe_and_add(ms.name)
            return
        if ms.kind == "custom":
            self._describe_and_add(ms.name)
            return
        self.query_one(ControlsPanel).add_member(ms.name)

    @work(thread=True, group="describe")
    def _describe_and_add(self, spec: str) -> None:
        from actlab.engine.custom_process import Stopped, describe

        try:
            describe([spec], stopped=self._leaving.is_set)
        except Stopped:
            return  # the app is closing: nobody to tell, and its exit does not wait for the check
        except ConfigError as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Not added", severity="error")
            return
        if not self._leaving.is_set():
            self.app.call_from_thread(self.query_one(ControlsPanel).add_member, spec)
