"""Finished sweeps made by the engine in-process, for the tests of what reads them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actlab.engine import RunConfig
from actlab.engine.control import Control
from actlab.engine.data import Dataset
from actlab.engine.experiments.sweep_dir import save_plan
from actlab.engine.experiments.sweep_jobs import run_job
from actlab.engine.experiments.sweep_plan import Plan
from actlab.engine.experiments.sweep_results import write_results


def finished_sweep(
    root: Path, config: RunConfig, axes: list[tuple[str, list[Any]]], seeds: list[int], data: Dataset
) -> Plan:
    """A sweep (or, without axes, a seeds directory) as `--batch` leaves it when done."""
    plan = Plan.build(config, axes, seeds)
    root.mkdir(parents=True, exist_ok=True)
    save_plan(root, plan)
    for job in plan.jobs:
        run_job(plan, job, root, Control(), data)
    write_results(root, plan)
    return plan
