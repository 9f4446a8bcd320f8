"""Evaluation overhead at the default cadence, and the cadence the default picks.

`actlab.engine.run` reports, per epoch, its training seconds and its evaluation seconds;
the overhead is evaluation / (training + evaluation), diagnostics off, 3 members. Measured
on the full-size data (one epoch) and on the bundled sample (6 epochs; the CLI's default
dataset). The cadence figures come from `resolve_eval_every` for a CPU and for a CUDA device.
"""

from __future__ import annotations

from typing import Any

import torch
from actlab.engine import RunConfig
from actlab.engine import run as engine_run
from actlab.engine.events import EpochFinished, Event
from actlab.engine.train import resolve_eval_every

from .common import Figure, Options, Result, full_dataset, interleave, median, sample_arrays, to_dataset

NAME = "eval"
TITLE = "Evaluation overhead at the default cadence, and the default cadence per device"


def overhead(config: RunConfig, data: Any) -> float:
    train_s, eval_s = 0.0, 0.0

    def listen(event: Event) -> None:
        nonlocal train_s, eval_s
        if isinstance(event, EpochFinished):
            train_s += event.seconds
            eval_s += event.eval_seconds

    engine_run(config, listen, data=data)
    return eval_s / (train_s + eval_s)


def run(opts: Options) -> Result:
    res = Result(NAME, TITLE)
    dev = opts.device.type
    full = full_dataset(opts.device)
    sample = to_dataset("sample", sample_arrays(), opts.device)
    base = RunConfig(diagnostics_every=0, device=dev, epochs=1)
    n_full = 2 * resolve_eval_every(base, opts.device, int(full.test_x.shape[0])) if opts.quick else None
    s = interleave(
        {
            "full": lambda: overhead(base.replace(max_iterations=n_full), full),
            "sample": lambda: overhead(base.replace(epochs=2 if opts.quick else 6), sample),
        },
        opts.repeats(3, 1),
        warmup=0,
    )
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    rows = {}
    for name, ds in (("full", full), ("sample", sample)):
        n_test = int(ds.test_x.shape[0])
        rows[name] = {
            "test_size": n_test,
            "cpu": resolve_eval_every(base, cpu, n_test),
            "cuda": resolve_eval_every(base, cuda, n_test),
            "overhead": median(s[name]),
        }
    here = rows["full"][dev if dev in ("cpu", "cuda") else "cpu"]
    for name, r in rows.items():
        res.lines.append(
            f"{name:<6} ({r['test_size']:,} test): default cadence CPU every {r['cpu']}, "
            f"GPU every {r['cuda']}; "
            f"on {dev}: {r['overhead']:.1%} of the run evaluating"
        )
    res.figures += [
        Figure(
            f"eval share of run time, full-size data (every {here})",
            rows["full"]["overhead"],
            "",
            0.25,
            False,
            "README: the CPU cadence keeps evaluation near a quarter of the run",
        ),
        Figure(
            "eval share of run time, bundled sample",
            rows["sample"]["overhead"],
            "",
            0.25,
            False,
            "README: the CPU cadence keeps evaluation near a quarter of the run",
        ),
        Figure("default cadence on CPU, full-size test split", rows["full"]["cpu"], "its"),
        Figure("default cadence on GPU", rows["full"]["cuda"], "its", 10, False, "issue 5: 10 or finer"),
    ]
    res.details = rows
    return res
