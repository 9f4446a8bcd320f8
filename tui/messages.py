"""Messages the lab screen takes, whatever feeds it: the engine process or a saved run."""

from __future__ import annotations

from dataclasses import dataclass

from actlab.engine.config import RunConfig
from actlab.engine.events import Event
from actlab.engine.results_model import Summary
from textual.message import Message


@dataclass
class EngineEvents(Message):
    """A batch of events of one run, in order (batched so a fast run costs few messages)."""

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
class SourceEnded(Message):
    """A run's source has nothing more: the engine ended the run, or a saved run was read to
    its end. `error` is one line when it failed; `summary` is None if it never began."""

    run_id: int
    error: str | None = None
    summary: Summary | None = None


@dataclass
class SourceFollowing(Message):
    """The saved run being read is still being written: it is followed as it grows."""

    run_id: int


@dataclass
class SettingsChanged(Message):
    """The form changed: the config it now describes (None if invalid) and the reasons."""

    config: RunConfig | None
    errors: dict[str, str]
