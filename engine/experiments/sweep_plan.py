"""Sweeps: a comparison repeated over seeds and settings, planned as few cohorts as possible.

A sweep is the cross product of its axes (`lr=0.01,0.1 depth=1,2`), each point a full fair
comparison of the chosen activations, repeated over the seeds. Points that differ only in
settings a member may hold on its own (learning rate, momentum, L1/L2, clipping threshold,
dropout, init and the gaussian init's sigma_w2, sigma_b2) and the seeds are trained in ONE
lockstep cohort: a *job*. Points that differ in shape or kind (depth, width, batch size,
optimizer, loss, clipping kind, dataset, input scaling, epochs) are separate jobs.

On disk, every (point, seed) is an ordinary run directory, so everything that reads a run
reads it (`--open`, `compare`, `report`):

    DIR/sweep.json                  the plan (axes, seeds, points, jobs); what --resume reads
    DIR/<point>/seed-<S>/...        one run per point and seed ("lr=0.1,depth=2/seed-0")
    DIR/<point>/aggregate.json      the point over its seeds (paired statements)
    DIR/sweep-results.json          every point, the heatmap and the best-lr view

A plain `--seeds N` run is a sweep without axes: DIR/seed-<S>/ and DIR/aggregate.json.
A job's cohort stream is split as it is written (`SplitWriter`): each sub-run gets the events
of its own members, renumbered, with its own settings in its config.

This module holds the plan (axes parsed, points grouped into jobs, stored as sweep.json);
`sweep_jobs` trains a job, `sweep_dir` keeps the directory (lock, plan on disk, resume) and
`sweep_results` sums it up (aggregates, heatmap, best learning rate).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from typing import TypedDict

from actlab.engine.config import ConfigError, RunConfig, host_memory_bytes, network_memory_bytes
from actlab.engine.events import ConfigDict, SettingValue
from actlab.engine.schema import SchemaError, load

from .report import value_text

PLAN_VERSION = 1
PLAN_FILE = "sweep.json"
RESULTS_FILE = "sweep-results.json"

# settings a member of a cohort may hold on its own (see lockstep.PER_MEMBER; seeds come from --seeds)
MEMBER_AXES = (
    "lr",
    "momentum",
    "weight_decay",
    "l1",
    "clip_threshold",
    "dropout",
    "init",
    "sigma_w2",
    "sigma_b2",
)
# settings that change the network's shape or the run's kind: a job each
SHAPE_AXES = (
    "depth",
    "width",
    "batch_size",
    "optimizer",
    "loss",
    "clip",
    "input_scaling",
    "dataset",
    "epochs",
)
AXES = MEMBER_AXES + SHAPE_AXES

# Runs (points x seeds) one sweep may hold. Each is a directory of four files, a summary
# builder in memory and an open events file while its job trains, and a line or more in the
# tables; 10,000 points made 20,000 directories and gigabytes of memory before the first
# step. A thousand is already more than the tables can be read for (the seeds' own cap).
MAX_RUNS = 1000


class SweepError(ConfigError):
    """A sweep that cannot be planned or resumed; one line."""


# an axis: the setting it sweeps and its values, each of that setting's type
Axis = tuple[str, list[SettingValue]]


class PointDict(TypedDict):
    name: str
    values: dict[str, SettingValue]
    job: int


class JobDict(TypedDict):
    index: int
    shape: dict[str, SettingValue]
    points: list[int]


class PlanDict(TypedDict):
    """sweep.json, in its key order (`Plan.to_dict`); `Plan.from_dict` checks a stored one."""

    version: int
    base: ConfigDict
    axes: list[list[str | list[SettingValue]]]  # [name, values]: JSON has no tuples
    seeds: list[int]
    points: list[PointDict]
    jobs: list[JobDict]


# ------------------------------------------------------------------------------ parsing


def _field_type(name: str) -> type:
    default = {f.name: f.default for f in dataclasses.fields(RunConfig)}[name]
    return type(default)


def parse_sweep(text: str, base: RunConfig) -> list[Axis]:
    """`"lr=0.01,0.1 depth=1,2"` -> [("lr", [0.01, 0.1]), ("depth", [1, 2])], each value
    checked as the setting it sets would be (one line naming the value otherwise)."""
    axes: list[Axis] = []
    words = text.replace(";", " ").split()
    if not words:
        raise SweepError(f'sweep {text!r}: give axes as name=v1,v2 (e.g. "lr=0.01,0.1 depth=1,2")')
    for word in words:
        name, eq, values_text = word.partition("=")
        name = name.strip().replace("-", "_")
        if not eq or not name:
            raise SweepError(f"sweep axis {word!r}: write it as name=v1,v2,... (e.g. lr=0.01,0.1)")
        if name == "seed":
            raise SweepError("sweep axis 'seed': seeds are given with --seeds N (paired, in one cohort)")
        if name not in AXES:
            raise SweepError(f"sweep axis {name!r}: choose from {', '.join(AXES)}")
        if any(name == n for n, _ in axes):
            raise SweepError(f"sweep axis {name!r} is given twice")
        kind = _field_type(name)
        values: list[SettingValue] = []
        raws = values_text.split(",")
        if len(raws) > MAX_RUNS:  # refused before each value is checked: that alone takes a while
            raise SweepError(
                f"sweep axis {name!r}: {len(raws):,} values, more than the {MAX_RUNS:,} runs one sweep "
                "may hold; use fewer values, or split it into several sweeps"
            )
        for raw in raws:
            raw = raw.strip()
            if not raw:
                raise SweepError(f"sweep axis {name!r}: an empty value in {values_text!r}")
            try:
                value: SettingValue = kind(raw) if kind is not str else raw
            except ValueError:
                raise SweepError(
                    f"sweep {name}={raw!r}: must be {'an integer' if kind is int else 'a number'}"
                ) from None
            if isinstance(value, float) and not math.isfinite(value):
                raise SweepError(f"sweep {name}={raw!r}: must be a finite number")
            try:
                base.replace(**{name: value}).validate()
            except ConfigError as exc:
                raise SweepError(f"sweep: {exc}") from None
            if value in values:
                raise SweepError(f"sweep axis {name!r}: value {raw} is given twice")
            values.append(value)
        axes.append((name, values))
    return axes


# ------------------------------------------------------------------------------ the plan


@dataclass
class Point:
    name: str  # "lr=0.1,depth=2" ("" for a sweep without axes)
    values: dict[str, SettingValue]
    job: int

    def run_dir(self, seed: int) -> str:
        return f"{self.name}/seed-{seed}" if self.name else f"seed-{seed}"


@dataclass
class Job:
    index: int
    shape: dict[str, SettingValue]  # the shape axes' values
    points: list[int]  # indices into Plan.points


@dataclass
class Plan:
    base: RunConfig
    axes: list[Axis]
    seeds: list[int]
    points: list[Point] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)

    @classmethod
    def build(cls, base: RunConfig, axes: list[Axis], seeds: list[int]) -> Plan:
        plan = cls(base, axes, seeds)
        _check_size(axes, seeds)  # before the product is built: it may be huge
        names = [n for n, _ in axes]
        jobs: dict[tuple[tuple[str, SettingValue], ...], Job] = {}
        for combo in itertools.product(*(vs for _, vs in axes)):
            values = dict(zip(names, combo))
            shape = {n: v for n, v in values.items() if n in SHAPE_AXES}
            key = tuple(shape.items())
            if key not in jobs:
                jobs[key] = Job(len(jobs), shape, [])
            job = jobs[key]
            name = ",".join(f"{n}={value_text(v)}" for n, v in values.items())
            if "/" in name or "\0" in name or name.startswith("."):
                raise SweepError(f"sweep point {name!r}: not a usable directory name")
            base.replace(**values).validate()  # every value, whatever its source (a stored plan)
            job.points.append(len(plan.points))
            plan.points.append(Point(name, values, job.index))
        names = [p.name for p in plan.points]
        if len(set(names)) != len(names):
            raise SweepError(f"sweep: two points would share a name ({_first_repeat(names)})")
        plan.jobs = list(jobs.values())
        _check_effective(base, axes)
        for job in plan.jobs:
            cfg = plan.job_config(job)
            cfg.validate()
            k = len(job.points) * len(seeds)
            need = network_memory_bytes(cfg) * k
            available = host_memory_bytes()
            if available and need > available:
                raise SweepError(
                    f"job {job.index + 1} of {len(plan.jobs)} ({_shape_text(job.shape)}): "
                    f"{k * len(cfg.activations)} members need "
                    f"~{need / 1e9:.3g} GB, more than this machine has; use fewer seeds or points"
                )
        return plan

    def job_config(self, job: Job) -> RunConfig:
        return self.base.replace(**job.shape)

    def job_variants(self, job: Job) -> list[dict[str, SettingValue]]:
        """The job's variants, seed-major: variant = seed index * points in job + point; each
        the settings its members hold on their own (the seed, and the point's member axes)."""
        return [
            {"seed": s, **{n: v for n, v in self.points[p].values.items() if n in MEMBER_AXES}}
            for s in self.seeds
            for p in job.points
        ]

    def job_runs(self, job: Job) -> list[tuple[Point, int]]:
        """(point, seed) of each variant of the job, in variant order."""
        return [(self.points[p], s) for s in self.seeds for p in job.points]

    def run_config(self, point: Point, seed: int) -> RunConfig:
        return self.base.replace(**point.values, seed=seed)

    def to_dict(self) -> PlanDict:
        return {
            "version": PLAN_VERSION,
            "base": self.base.to_dict(),
            "axes": [[n, vs] for n, vs in self.axes],
            "seeds": self.seeds,
            "points": [{"name": p.name, "values": p.values, "job": p.job} for p in self.points],
            "jobs": [{"index": j.index, "shape": j.shape, "points": j.points} for j in self.jobs],
        }

    @classmethod
    def from_dict(cls, d: object, where: str) -> Plan:
        """A stored plan, checked: rebuilt from its base, axes and seeds, and compared."""
        if not isinstance(d, dict) or d.get("version") != PLAN_VERSION:
            raise SweepError(f"{where}: not a sweep plan of version {PLAN_VERSION}")
        try:  # the one validator of stored JSON (schema), then the settings' own checks
            stored: PlanDict = load(PlanDict, d, "")
            axes: list[Axis] = load(list[Axis], stored["axes"], "axes")  # [name, values] pairs
            base = RunConfig.from_dict(stored["base"]).validate()
        except (SchemaError, ConfigError) as exc:
            raise SweepError(f"{where}: not a valid sweep plan ({exc})") from None
        seeds = stored["seeds"]
        for name, values in axes:
            if name not in AXES or not values:
                raise SweepError(f"{where}: axis {name!r} is not one a sweep has")
        if not seeds:
            raise SweepError(f"{where}: no seeds")
        plan = cls.build(base, [(n, [_stored(n, v) for v in vs]) for n, vs in axes], seeds)
        # settings an older actlab did not store take their defaults (a sweep planned before
        # the validation split has none: `validation` None, no split, as it was trained)
        as_stored = {**d, "base": {**plan.base.to_dict(), **stored["base"]}}
        if plan.to_dict() != as_stored:
            raise SweepError(f"{where}: the plan does not match its own axes and seeds (edited?)")
        return plan


def _check_size(axes: list[Axis], seeds: list[int]) -> None:
    points = math.prod(len(vs) for _, vs in axes)
    runs = points * len(seeds)
    if runs > MAX_RUNS:
        shape = " x ".join(f"{len(vs)} {n}" for n, vs in axes)
        raise SweepError(
            f"sweep: {points:,} points ({shape}) x {len(seeds)} seed(s) = {runs:,} runs, more than the "
            f"{MAX_RUNS:,} one sweep may hold; use fewer values or seeds, or split it into several sweeps"
        )


def _first_repeat(names: list[str]) -> str:
    return next(n for i, n in enumerate(names) if n in names[:i])


def _check_effective(base: RunConfig, axes: list[Axis]) -> None:
    """Refuse an axis whose values cannot change anything: every point would be the same run."""
    swept = dict(axes)
    clips = swept.get("clip", [base.clip])
    if "clip_threshold" in swept and all(c == "none" for c in clips):
        raise SweepError(
            "sweep axis clip_threshold: no effect without clipping; add --clip l2, l1, inf or value"
        )
    optimizers = swept.get("optimizer", [base.optimizer])
    if "momentum" in swept and all(o == "adam" for o in optimizers):
        raise SweepError("sweep axis momentum: adam ignores it; use --optimizer sgd")
    inits = swept.get("init", [base.init])
    for name in ("sigma_w2", "sigma_b2"):
        if name in swept and "gaussian" not in inits:
            raise SweepError(f"sweep axis {name}: no effect without --init gaussian")


def _stored(name: str, v: object) -> SettingValue:
    """A stored axis value, of its setting's type (JSON writes the float 1.0 as 1)."""
    kind = _field_type(name)
    if kind is float and isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    if not isinstance(v, (int, float, str)) or not isinstance(v, kind) or isinstance(v, bool):
        raise SweepError(f"sweep plan: {name} value {v!r} is not a {kind.__name__}")
    return v


def _shape_text(shape: dict[str, SettingValue]) -> str:
    return ", ".join(f"{n}={value_text(v)}" for n, v in shape.items()) or "one job"
