"""Overhead of diagnostics at their default cadence vs diagnostics off.

Two `actlab.engine.run` calls that differ only in `diagnostics_every` (default vs 0) are
timed in turn, A B A B, on the full-size data (2 epochs) and on the bundled sample (8 epochs),
3 members, evaluation at its default cadence in both. Every run also ends with diagnostics.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from actlab.engine import RunConfig
from actlab.engine import run as engine_run
from actlab.engine.data import Dataset
from actlab.engine.train import resolve_diagnostics_every, resolve_eval_every

from .common import Figure, Options, Result, full_dataset, interleave, median, sample_arrays, to_dataset

NAME = "diagnostics"
TITLE = "Diagnostics at the default cadence vs diagnostics off (whole runs)"


def whole_run(config: RunConfig, data: Dataset) -> None:
    engine_run(config, data=data)


def run(opts: Options) -> Result:
    res = Result(NAME, TITLE)
    dev = opts.device.type
    sets: dict[str, tuple[Dataset, RunConfig]] = {
        "full": (
            full_dataset(opts.device),
            RunConfig(device=dev, epochs=1 if opts.quick else 2),
        ),
        "sample": (
            to_dataset("sample", sample_arrays(), opts.device),
            RunConfig(device=dev, epochs=2 if opts.quick else 8),
        ),
    }
    if opts.quick:  # a smoke test: the sample only
        del sets["full"]
    contenders: dict[str, Callable[[], None]] = {}
    for name, (data, cfg) in sets.items():
        contenders[f"{name}/on"] = partial(whole_run, cfg, data)
        contenders[f"{name}/off"] = partial(whole_run, cfg.replace(diagnostics_every=0), data)
    s = interleave(contenders, opts.repeats(5, 1))
    for name, (data, cfg) in sets.items():
        ev = resolve_eval_every(cfg, opts.device, int(data.test_x.shape[0]))
        every = resolve_diagnostics_every(cfg, ev)
        on, off = median(s[f"{name}/on"]), median(s[f"{name}/off"])
        res.lines.append(
            f"{name:<6}: diagnostics every {every} iterations: run {on:.2f} s with, {off:.2f} s without"
        )
        res.figures.append(
            Figure(f"diagnostics overhead, {name}", on / off - 1, "", 0.10, False, "brief: at most 10%")
        )
    res.details = {"seconds": s}
    return res
