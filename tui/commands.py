"""The command palette (ctrl+p): every lab action by name, and adding or removing members.

Typing a member spec (`leaky_relu(0.02)`, `./acts.py:fn`, `mypkg.acts:fn`) offers "Add
member: <spec>"; the screen checks it (a served app refuses code the server was not given)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from actlab.engine.activation_lookup import lookup
from actlab.engine.activations import SpecError, known_names, member_spec
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
        for name in known_names():
            act = lookup(name)
            what = f" ({act.formula})" if act is not None else " (from an installed package)"
            commands.append(
                (f"Compare: {name}", f"Add or remove {name}{what}", partial(screen.toggle_member, name))
            )
        return commands

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands()[:7]:
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        from .screens.lab import LabScreen

        spec = query.strip()
        if isinstance(self.screen, LabScreen) and ("(" in spec or ":" in spec):
            try:
                name = member_spec(spec).name
            except SpecError as exc:
                yield Hit(1.0, f"Add member: {spec}", lambda: None, help=str(exc))
            else:
                yield Hit(
                    1.0,
                    f"Add member: {name}",
                    partial(self.screen.add_member_spec, spec),
                    help="Add this activation to the comparison (a function of yours is checked first)",
                )
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
