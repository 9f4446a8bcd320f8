"""Member costs: what each member's training would cost alone, timed once per run.

Lockstep training shares every step between the members, so a member's own cost is measured
apart: one-member cohorts at the run's shapes, timed in interleaved rounds (`time_alone`),
within COST_SHARE of the run's planned training time, against a fixed reference activation
(`measure`, which answers the `MemberCosts` event).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from .config import RunConfig
from .data import Dataset
from .events import MemberCosts
from .lockstep import Trainer

COST_SHARE = 0.03  # of the run's planned training time, spent timing each member alone
COST_REFERENCE = "relu"


def time_alone(
    config: RunConfig,
    data: Dataset,
    specs: list[str],
    steps: int,
    rounds: int = 5,
    budget_s: float | None = None,
    stopped: Callable[[], bool] | None = None,
) -> tuple[list[float], int]:
    """Seconds per training step of each spec alone, and the rounds timed: a one-member
    cohort per spec, at the run's shapes (network, batch, optimizer, clipping, dropout) on
    the data's device. After
    one untimed warm-up step each, `rounds` rounds time `steps` steps of every member in
    turn (the order rotating), so noise from the machine hits all alike; the fastest round
    counts (interference only ever adds time). Past `budget_s`, no further round starts once
    two are done; once `stopped()` (the run was stopped: it must end soon), none after the
    first. The run's own members are untouched: these are separate trainers with
    their own generators."""
    started = time.perf_counter()
    device = data.train_x.device
    trainers = [Trainer(config.replace(activations=(spec,)), data, device) for spec in specs]
    batches = trainers[0].batches()
    times: list[list[float]] = [[] for _ in specs]

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for t in trainers:
        t.step(batches[0])
    for r in range(rounds):
        if budget_s is not None and r >= 2 and time.perf_counter() - started > budget_s:
            break  # a busy machine: what is measured so far stands
        if stopped is not None and r >= 1 and stopped():
            break
        for j in range(len(specs)):
            k = (j + r) % len(specs)
            sync()
            t0 = time.perf_counter()
            for i in range(steps):
                trainers[k].step(batches[(1 + i) % len(batches)])
            sync()
            times[k].append((time.perf_counter() - t0) / steps)
    return [min(ts) for ts in times], len(times[0])


def measure(
    config: RunConfig,
    data: Dataset,
    members: list[str],
    lockstep_step_s: float,
    total: int,
    per_epoch: int,
    stopped: Callable[[], bool],
) -> MemberCosts:
    """Each member's epoch alone (`members`: member -> activation spec), once, after the
    first epoch: timed steps of one-member cohorts (`time_alone`) within COST_SHARE of the
    run's planned training time (`total` iterations of `lockstep_step_s` each)."""
    t0 = time.perf_counter()
    specs = list(config.activations)
    timed = specs if COST_REFERENCE in specs else [*specs, COST_REFERENCE]
    # a member alone costs about 2/K of a lockstep step of K (lockstep wins up to 2x)
    alone_guess = 2.0 * lockstep_step_s / max(1, len(specs))
    budget = COST_SHARE * lockstep_step_s * total
    rounds = 5
    steps = (int(budget / (alone_guess * len(timed))) - 1) // rounds
    steps = max(1, min(50, steps))
    # a stop (the user's, or the app gone) ends the measurement after its first round
    per_step, done = time_alone(config, data, timed, steps, rounds, budget, stopped)
    alone = [round(s * per_epoch, 6) for s in per_step]
    device = data.train_x.device
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return MemberCosts(
        epoch_time_alone_s=[alone[timed.index(a)] for a in members],
        reference=COST_REFERENCE,
        reference_epoch_time_alone_s=alone[timed.index(COST_REFERENCE)],
        steps=steps * done,
        rounds=done,
        seconds=round(time.perf_counter() - t0, 6),
    )
