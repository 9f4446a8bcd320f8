"""The command palette (ctrl+p): every lab action by name, and adding or removing members."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from actlab.engine import ACTIVATIONS
from textual.command import DiscoveryHit, Hit, Hits, Provider

Command = tuple[str, str, Callable[[], object]]


class LabCommands(Provider):
    """Start, pause, resume, stop, reset, settings, help, and 'Compare: <activation>'."""

    def _commands(self) -> list[Command]:
        from .screens.lab import LabScreen  # here: the screens import this module's app

        screen = self.screen
        if not isinstance(screen, LabScreen):
            return []
        commands: list[Command] = [
            (
                "Start the comparison",
                "Train the members with the settings shown (ctrl+s)",
                screen.action_start,
            ),
            ("Pause training", "Pause; the figures stay (ctrl+t)", screen.action_pause),
            ("Resume training", "Go on after a pause (ctrl+t)", screen.action_resume),
            ("Stop training", "Stop and keep the results so far (ctrl+g)", screen.action_stop),
            ("Reset", "Clear the results and restore the launch settings (ctrl+n)", screen.action_reset),
            (
                "Show or hide the settings",
                "Give the charts the whole width (ctrl+b)",
                screen.action_toggle_controls,
            ),
            ("Help", "Panels and words explained (?)", screen.action_help),
        ]
        for name, act in ACTIVATIONS.items():
            commands.append(
                (
                    f"Compare: {name}",
                    f"Add or remove {name} ({act.formula})",
                    partial(screen.toggle_member, name),
                )
            )
        return commands

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands()[:7]:
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
