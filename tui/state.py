"""What the lab is doing and what the status line says, kept apart from any widget.

`RunStatus` is fed the same events as the views (plus progress) and turns them into the
status line's text. It holds only figures the run itself reported (elapsed seconds from the
engine, not a wall clock read here), so a replayed run shows exactly what was recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from actlab.engine.events import EpochFinished, Evaluation, Event, Progress, RunFinished, RunStarted


class Phase(StrEnum):
    """The lab's state; it decides which actions are available."""

    IDLE = "idle"  # nothing started yet, or reset
    LOADING = "loading data"  # a run was started; the worker loads data and waits its turn
    TRAINING = "training"
    PAUSED = "paused"
    STOPPING = "stopping"
    DONE = "done"
    STOPPED = "stopped"
    FAILED = "failed"
    REPLAY = "replaying"  # reading a saved run
    SAVED = "saved run"  # a saved run, fully shown

    @property
    def active(self) -> bool:
        """A training loop may be running (settings are locked)."""
        return self in (Phase.LOADING, Phase.TRAINING, Phase.PAUSED, Phase.STOPPING)


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@dataclass
class RunStatus:
    """The figures of the status line for one run, live or replayed."""

    phase: Phase = Phase.IDLE
    dataset: str | None = None
    notice: str | None = None
    device: str | None = None
    members: list[str] = field(default_factory=list)
    eval_every: int | None = None
    epochs: int | None = None
    epoch: int = 0
    iteration: int = 0
    total_iterations: int | None = None
    elapsed_s: float | None = None
    run_dir: str | None = None
    replayed: bool = False  # run_dir is where the run was read from, not where it is saved
    interrupted: bool = False  # a saved run whose stream ends without run_finished
    following: bool = False  # a saved run still being written, read as it grows
    error: str | None = None

    def feed(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            ds = event.dataset
            self.dataset = f"{ds.get('name')} ({ds.get('train_size')} train / {ds.get('test_size')} test)"
            self.notice = ds.get("notice")
            self.device = event.device
            self.members = list(event.members)
            self.eval_every = event.eval_every
            self.epochs = int(event.config.get("epochs", 0)) or None
            self.total_iterations = event.total_iterations
            self.epoch, self.iteration, self.elapsed_s, self.error = 0, 0, None, None
        elif isinstance(event, Progress):
            self.iteration = max(self.iteration, event.iteration)
            self.epoch = max(self.epoch, event.epoch)
            self.elapsed_s = event.elapsed_s
        elif isinstance(event, Evaluation):
            self.iteration = max(self.iteration, event.iteration)
            self.epoch = max(self.epoch, event.epoch)
        elif isinstance(event, EpochFinished):
            self.iteration = max(self.iteration, event.iteration)
            self.epoch = max(self.epoch, event.epoch)
        elif isinstance(event, RunFinished):
            self.iteration = max(self.iteration, event.iteration)
            self.elapsed_s = event.elapsed_s
            self.error = event.error

    @property
    def rate(self) -> float | None:
        """Iterations per second over the whole run so far (evaluation time included)."""
        if not self.elapsed_s or not self.iteration:
            return None
        return self.iteration / self.elapsed_s

    def parts(self) -> list[str]:
        """The status line, as separate pieces (the widget joins and styles them)."""
        phase = "following" if self.following and self.phase == Phase.REPLAY else self.phase.value
        out = [f"{phase} (interrupted)" if self.interrupted else phase]
        if self.dataset:
            out.append(self.dataset)
        if self.device:
            out.append(self.device)
        if self.epochs:
            out.append(f"epoch {self.epoch}/{self.epochs}")
        if self.total_iterations:
            out.append(f"iteration {self.iteration}/{self.total_iterations}")
        if self.eval_every:
            out.append(f"eval every {self.eval_every}")
        rate = self.rate
        if rate is not None:
            out.append(f"{rate:,.0f} it/s")
        if self.elapsed_s is not None:
            out.append(f"elapsed {clock(self.elapsed_s)}")
        return out
