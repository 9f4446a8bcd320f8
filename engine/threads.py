"""CPU threads for training: a fixed count by default, or chosen by timing the run's own steps.

By default a run trains on a fixed count: the user's (`--threads N`, a sweep worker's share,
OMP_NUM_THREADS in the environment) or else PyTorch's own default (one intra-op thread per
core). A fixed count makes a run reproducible: the same command and seed on the same machine
give the same numbers bit for bit, whether the machine is quiet or busy. Two different counts
need not: on a 2-core Intel Xeon, 1 and 2 threads gave test losses 0.383757 and 0.383756 at
iteration 40 (the reductions split differently), so a count that follows the machine's load
makes the results follow it too.

PyTorch's default is the fastest on a quiet machine and collapses on a shared one: its OpenMP
threads wait for each other at every parallel region, and a thread that another process has
pushed off its core holds all of them up. On a 2-core machine with one other busy process an
epoch took 3.4-4.8x its quiet time on 2 threads and kept its quiet time on 1.

So the user can opt in to speed under contention (`auto()`: `--threads auto`): the run trains
under a `ThreadTuner`. It times the run's own training steps (evaluation, diagnostics and
pauses are never inside a timed step) in short windows at each candidate count, keeps the
fastest, and checks again now and then, and at once when the steps at its choice get much
slower or faster than when it chose: a competitor that comes or goes moves the choice. Such a
run is not bit-reproducible, and says so. The decision logic sees step durations only, so it
is tested with made-up ones.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any

import torch

DEFAULT_THREADS = torch.get_num_threads()  # PyTorch's own choice, taken before anyone changes it
AUTO = "auto"  # the word that turns the tuner on (`--threads auto`)
NOT_REPRODUCIBLE = (
    "threads: chosen while training by timing the steps (--threads auto); the count follows the "
    "machine's load, so results are not bit-for-bit reproducible (fix --threads N for that)"
)
_fixed: int | None = None
_auto = False


def fixed(n: int | None) -> int | None:
    """Fix this process's PyTorch CPU threads at `n`, or with None at PyTorch's default (the
    tuner stays off either way). Returns the setting it replaced (`fixed(previous)` restores
    it)."""
    global _fixed, _auto
    if n is not None and n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    previous, _fixed, _auto = _fixed, n, False
    torch.set_num_threads(DEFAULT_THREADS if n is None else n)
    return previous


def auto() -> None:
    """Let each CPU run of this process choose its thread count by timing its steps (opt-in:
    not bit-reproducible)."""
    global _fixed, _auto
    _fixed, _auto = None, True
    torch.set_num_threads(DEFAULT_THREADS)


def configure(setting: int | str | None) -> None:
    """Apply a `--threads` setting: a count, "auto", or None (PyTorch's default, fixed)."""
    if setting == AUTO:
        auto()
    else:
        fixed(None if setting is None else int(setting))


def fixed_count() -> int | None:
    """The count the user fixed: by `fixed(n)`, else OMP_NUM_THREADS; None: not fixed."""
    if _fixed is not None:
        return _fixed
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(env) if env.isdigit() and int(env) > 0 else None


def tuned() -> bool:
    """Whether CPU runs of this process choose their thread count (opted in, nothing fixed)."""
    return _auto and fixed_count() is None


def worker_threads(jobs: int, cores: int | None = None) -> int:
    """Threads for each of `jobs` local workers sharing the machine (a sweep): its share of
    the cores, at least 1. Each worker calls `fixed()` with it before training."""
    cores = cores if cores is not None else DEFAULT_THREADS
    return max(1, cores // max(1, jobs))


def candidates(cores: int) -> list[int]:
    """Counts worth timing: each up to 4 cores; beyond, 1, a quarter, half and all."""
    if cores <= 4:
        return list(range(1, cores + 1))
    return sorted({1, max(1, cores // 4), cores // 2, cores})


class FixedThreads:
    """No tuning: the step runs as it is (a GPU run, one core, or a fixed count)."""

    def step(self, fn: Callable[..., Any], *args: Any) -> None:
        fn(*args)

    @property
    def count(self) -> int | None:
        return None


class ThreadTuner:
    """Chooses the thread count from the durations of training steps.

    Exploring, each candidate (fewest threads first) trains one window: a warm-up step that
    is not counted (the count just changed), then steps until `window_s` of step time and at
    least `min_steps` steps (at most `max_steps`). The fastest mean step wins; the current
    choice is left only for one at least `margin` faster (hysteresis). Settled, the choice
    trains for `interval_s` of step time (doubled each time a check confirms the choice, up
    to `max_interval_s`; and at least `cost_factor` times what the last exploration cost
    beyond the same steps at the choice, so exploring costs 1/cost_factor at most), watched
    in windows of the same size: a window whose mean step is `drift` times slower or faster
    than at the choice starts the next exploration early (a competitor came or left), once
    the choice has trained `drift_wait` times as long as that exploration took (so a noisy
    machine cannot keep it exploring).
    One step `cutoff` times slower than the best mean seen (warm-up included) ends a
    candidate's window at once: with its threads starved by another process a step at all
    cores can take 100x the usual, and a full window of those would cost seconds.
    """

    def __init__(
        self,
        counts: list[int],
        set_threads: Callable[[int], None] = torch.set_num_threads,
        current: int | None = None,
        clock: Callable[[], float] | None = None,
        window_s: float = 0.05,
        min_steps: int = 3,
        max_steps: int = 50,
        margin: float = 0.1,
        interval_s: float = 2.0,
        max_interval_s: float = 16.0,
        cost_factor: float = 20.0,
        drift: float = 1.3,
        drift_wait: float = 5.0,
        cutoff: float = 10.0,
    ) -> None:
        self.counts = sorted(set(counts))
        self.set_threads = set_threads
        self.clock = clock or time.perf_counter
        self.window_s, self.min_steps, self.max_steps = window_s, min_steps, max_steps
        self.margin, self.cost_factor = margin, cost_factor
        self.drift, self.drift_wait, self.cutoff = drift, drift_wait, cutoff
        self.base_interval_s, self.max_interval_s = interval_s, max_interval_s
        self.interval_s = interval_s
        start = current if current is not None else torch.get_num_threads()
        self.choice = min(self.counts, key=lambda c: abs(c - start))
        self.reference = 0.0  # mean step at the choice, when it was chosen
        self.means: dict[int, float] = {}  # the last exploration's mean step per count
        self.explorations = 0
        self.switches = 0
        self._queue: list[int] = []
        self._settle_left = 0.0
        self._settled_s = 0.0
        self._explore_spent = 0.0
        self._explore_steps = 0
        self._win_steps = 0
        self._win_s = 0.0
        self._warm = True  # the next step is a warm-up, not counted
        self._explore()

    @property
    def count(self) -> int:
        """The thread count training runs on now."""
        return self._queue[0] if self._queue else self.choice

    def step(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run one training step, timed."""
        t0 = self.clock()
        fn(*args)
        self.record(self.clock() - t0)

    def record(self, seconds: float) -> None:
        """One training step took `seconds` at `count` threads."""
        if self._queue:
            self._explore_spent += seconds
            self._explore_steps += 1
        else:
            self._settle_left -= seconds
            self._settled_s += seconds
        if self._queue and seconds > self.cutoff * self._best_known():
            mean = seconds  # hopeless (threads starved by another process): no more of it
        else:
            if self._warm:
                self._warm = False
                return
            self._win_steps += 1
            self._win_s += seconds
            full = self._win_steps >= self.max_steps or (
                self._win_s >= self.window_s and self._win_steps >= self.min_steps
            )
            if not full:
                return
            mean = self._win_s / self._win_steps
        self._win_steps, self._win_s = 0, 0.0
        if self._queue:
            self.means[self._queue.pop(0)] = mean
            if self._queue:
                self._use(self._queue[0])
            else:
                self._decide()
        elif self._settle_left <= 0 or (
            self._settled_s >= self.drift_wait * self._explore_spent
            and not self.reference / self.drift <= mean <= self.reference * self.drift
        ):
            self._explore()

    def _best_known(self) -> float:
        """The fastest mean step this exploration has seen, else the choice's; inf: none."""
        known = [*self.means.values(), *([self.reference] if self.reference > 0 else [])]
        return min(known, default=math.inf)

    def _explore(self) -> None:
        self.explorations += 1
        self._queue = list(self.counts)  # 1 first: never starved, it bounds the others
        self.means = {}
        self._explore_spent = 0.0
        self._explore_steps = 0
        self._use(self._queue[0])

    def _decide(self) -> None:
        best = min(self.means, key=lambda c: self.means[c])
        if best != self.choice and self.means[best] < self.means[self.choice] * (1 - self.margin):
            self.choice = best
            self.switches += 1
            self.interval_s = self.base_interval_s
        else:
            self.interval_s = min(self.max_interval_s, 2 * self.interval_s)
        if self.choice != self.counts[-1]:  # the last one timed
            self._use(self.choice)
        self.reference = self.means[self.choice]
        self._settled_s = 0.0
        # what the exploration cost beyond the same steps at the choice
        waste = self._explore_spent - self._explore_steps * self.reference
        self._settle_left = max(self.interval_s, self.cost_factor * waste)

    def _use(self, n: int) -> None:
        self.set_threads(n)
        self._warm = True
        self._win_steps, self._win_s = 0, 0.0


def for_run(device: torch.device) -> ThreadTuner | FixedThreads:
    """What a run trains under: a fixed count, unless the user opted in to the tuner (`auto()`)
    and the run is on a CPU with more than one core."""
    if device.type != "cpu" or not tuned() or len(candidates(DEFAULT_THREADS)) < 2:
        return FixedThreads()
    return ThreadTuner(candidates(DEFAULT_THREADS))
