"""A sweep's points and seeds in one cohort against the runs it replaces, one after another.

3 activations x 5 learning rates x 2 seeds: 30 members in ONE lockstep cohort (one `run` with
variants, as `--sweep "lr=..." --seeds 2` trains it) against the 10 ordinary runs of 3 members
(one per learning rate and seed) run one after another in the same process, on the same data
in memory. Both are whole runs: set-up, training, evaluations and the cost measurement. They
are timed in turn (cohort, runs, cohort, runs...) and the medians compared (issue 10: >= 2x).
"""

from __future__ import annotations

import time
from typing import Any

from actlab.engine import RunConfig
from actlab.engine import run as engine_run

from .common import Figure, Options, Result, median, sample_arrays, to_dataset

NAME = "sweep"
TITLE = "3 activations x 5 learning rates x 2 seeds: one cohort vs 10 runs one after another"

LRS = (0.01, 0.03, 0.05, 0.1, 0.3)
SEEDS = (0, 1)


def run(opts: Options) -> Result:
    res = Result(NAME, TITLE)
    data = to_dataset("sample", sample_arrays(), opts.device)
    config = RunConfig(device=opts.device.type, epochs=1 if opts.quick else 2)
    variants: list[dict[str, Any]] = [{"seed": s, "lr": lr} for s in SEEDS for lr in LRS]
    engine_run(config.replace(max_iterations=10), data=data)  # warm-up: first-call costs out of the way
    cohort_s: list[float] = []
    runs_s: list[float] = []
    train_cohort: list[float] = []
    train_runs: list[float] = []
    for _ in range(opts.repeats(3, 1)):
        t0 = time.perf_counter()
        summary = engine_run(config, data=data, variants=variants)
        cohort_s.append(time.perf_counter() - t0)
        train_cohort.append(_train_s(summary))
        t0 = time.perf_counter()
        train = 0.0
        for v in variants:
            train += _train_s(engine_run(config.replace(**v), data=data))
        runs_s.append(time.perf_counter() - t0)
        train_runs.append(train)
        res.lines.append(
            f"one cohort of {len(variants) * 3} members {cohort_s[-1]:.2f} s; "
            f"{len(variants)} runs of 3 members {runs_s[-1]:.2f} s"
        )
    res.figures.append(
        Figure(
            "whole sweep, 10 runs / one cohort of 30",
            median(runs_s) / median(cohort_s),
            "x",
            2.0,
            True,
            "issue 10",
            note=f"cohort {median(cohort_s):.2f} s, runs {median(runs_s):.2f} s (medians)",
        )
    )
    res.figures.append(
        Figure(
            "training time only (no evaluation), 10 runs / cohort",
            median(train_runs) / median(train_cohort),
            "x",
            note="summed epoch time, evaluation and set-up excluded",
        )
    )
    res.details = {
        "cohort_s": cohort_s,
        "runs_s": runs_s,
        "train_cohort_s": train_cohort,
        "train_runs_s": train_runs,
    }
    return res


def _train_s(summary: dict[str, Any]) -> float:
    epoch = summary["epoch_time_s"] or 0.0
    per_epoch = summary["iterations_per_epoch"] or 1
    return float(epoch) * summary["iterations"] / per_epoch
