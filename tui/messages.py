"""Messages between the training thread, the widgets and the lab screen."""

from __future__ import annotations

from dataclasses import dataclass

from actlab.engine import RunConfig
from actlab.engine.events import Event
from textual.message import Message


@dataclass
class EngineEvents(Message):
    """A batch of engine events of one run, in order (batched so a fast run costs few messages)."""

    run_id: int
    events: list[Event]


@dataclass
class RunProgress(Message):
    """Where a run stands; cumulative, so a newer one replaces any still queued."""

    run_id: int
    iteration: int
    epoch: int
    elapsed_s: float

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunProgress) and message.run_id == self.run_id


@dataclass
class SettingsChanged(Message):
    """The form changed: the config it now describes (None if invalid) and the reasons."""

    config: RunConfig | None
    errors: dict[str, str]
