"""The lab replaying one run of a sweep, a seeds directory or a comparison, with a way back."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType

from .lab import LabScreen


class RunScreen(LabScreen):
    """The lab on a saved run, opened from another view: escape goes back to it. Everything
    else is the lab's own (Start runs the saved settings again, as after --open)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", tooltip="Back to the view this run was opened from."),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return True
        if not self.is_mounted:
            # pushed over another view, its keys are checked while it mounts; the lab's
            # checks read its phase, whose first read updates widgets not mounted yet
            return True
        return super().check_action(action, parameters)

    def action_back(self) -> None:
        self.dismiss()
