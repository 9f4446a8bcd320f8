"""Overhead of diagnostics at their default cadence vs diagnostics off.

Two `actlab.engine.run` calls that differ only in `diagnostics_every` (default vs 0) are
timed in turn, A B A B: on the full-size data for one diagnostics period, and on the bundled
sample for 8 epochs; 3 members, evaluation at its default cadence in both. A cross-check from
the parts: one diagnostics probe and the training steps of one period, timed in turn.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from actlab.engine import RunConfig
from actlab.engine import run as engine_run
from actlab.engine.data import Dataset
from actlab.engine.train import resolve_diagnostics_every, resolve_eval_every

from .common import (
    EngineLoop,
    Figure,
    Options,
    Result,
    full_dataset,
    interleave,
    median,
    sample_arrays,
    sync,
    to_dataset,
)

NAME = "diagnostics"
TITLE = "Diagnostics at the default cadence vs diagnostics off (whole runs)"


def whole_run(config: RunConfig, data: Dataset) -> None:
    engine_run(config, data=data)


def run(opts: Options) -> Result:
    res = Result(NAME, TITLE)
    dev = opts.device.type
    full = full_dataset(opts.device)
    base = RunConfig(device=dev)
    full_every = resolve_diagnostics_every(
        base, resolve_eval_every(base, opts.device, int(full.test_x.shape[0]))
    )
    sets: dict[str, tuple[Dataset, RunConfig]] = {
        # one diagnostics period of full-size data (and the run's final diagnostics are that one)
        "full": (full, base.replace(epochs=2, max_iterations=full_every)),
        "sample": (
            to_dataset("sample", sample_arrays(), opts.device),
            base.replace(epochs=2 if opts.quick else 8),
        ),
    }
    if opts.quick:  # a smoke test: the sample only
        del sets["full"]
    contenders: dict[str, Callable[[], None]] = {}
    for name, (data, cfg) in sets.items():
        contenders[f"{name}/on"] = partial(whole_run, cfg, data)
        contenders[f"{name}/off"] = partial(whole_run, cfg.replace(diagnostics_every=0), data)
    s = interleave(contenders, opts.repeats(7, 1))
    for name, (data, cfg) in sets.items():
        ev = resolve_eval_every(cfg, opts.device, int(data.test_x.shape[0]))
        every = resolve_diagnostics_every(cfg, ev)
        on, off = median(s[f"{name}/on"]), median(s[f"{name}/off"])
        res.lines.append(
            f"{name:<6}: diagnostics every {every} iterations: run {on:.2f} s with, {off:.2f} s without"
        )
        res.figures.append(
            Figure(f"diagnostics overhead, whole runs, {name}", on / off - 1, "", 0.10, False, "brief")
        )
    # Cross-check from the parts, timed in turn: one probe vs the steps of one period.
    loop = EngineLoop(base, full, opts.device)
    n = 50
    parts = interleave(
        {"steps": partial(loop.train, n, evaluate=False), "probe": partial(probe_seconds, loop)},
        opts.repeats(9, 3),
    )
    step_s, probe_s = median(parts["steps"]), median(parts["probe"])
    res.lines.append(
        f"parts: one diagnostics probe {probe_s * 1e3:.1f} ms = {probe_s / step_s:.1f} training steps "
        f"({step_s * 1e3:.2f} ms each, 3 members)"
    )
    res.figures.append(
        Figure(
            f"diagnostics overhead from parts, every {full_every}",
            probe_s / (full_every * step_s),
            "",
            0.10,
            False,
            "brief",
        )
    )
    res.details = {"seconds": s, "probe_s": probe_s, "step_s": step_s}
    return res


def probe_seconds(loop: EngineLoop) -> float:
    sync(loop.device)
    t0 = time.perf_counter()
    loop.trainer.diagnostics()  # includes its one host read
    sync(loop.device)
    return time.perf_counter() - t0
