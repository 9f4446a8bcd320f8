"""The key footer, rebuilt only when the keys it shows change."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer

Shown = tuple[object, ...]


class KeyFooter(Footer):
    """Textual's Footer, less its rebuilds that change nothing.

    Footer recomposes on every bindings update of its screen: each focus move and each tab
    switch remounts all its keys and costs a layout pass of the whole screen, though the keys
    shown are the same. This one compares first."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._shown: Shown | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            shown = self.keys_shown(screen)
            if self._bindings_ready and shown == self._shown:
                return
            self._shown = shown
        super().bindings_changed(screen)

    def keys_shown(self, screen: Screen[object]) -> Shown:
        """Everything of the screen's active bindings that `Footer.compose` puts on show."""
        active = screen.active_bindings
        keys: list[object] = [
            (b.key, b.action, b.description, b.key_display, b.group, enabled, tooltip)
            for _, b, enabled, tooltip in active.values()
            if b.show
        ]
        palette = active.get(self.app.COMMAND_PALETTE_BINDING)
        keys.append(None if palette is None else (palette[1].key, palette[2], palette[3]))
        return tuple(keys)
