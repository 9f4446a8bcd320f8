"""A sweep's points and seeds in one cohort against the runs it replaces, one after another.

3 activations x 5 learning rates x 2 seeds: 30 members in ONE lockstep cohort against the 10
ordinary runs of 3 members (one per learning rate and seed) run one after another. Two ways,
each timed in turn (A B, B A, ...) and compared by medians:

- as commands (the issue-10 target, >= 2x): `actlab-tui --batch --sweep "lr=..." --seeds 2`
  once, against `actlab-tui --batch --lr X --seed S` ten times, which is how the comparison
  was run before sweeps: every command starts Python, loads PyTorch and the data, trains,
  evaluates and writes its results directory;
- in one process (the engine alone, reported without a target): `run(config, variants=...)`
  against ten `run(config)` calls on the same data in memory.

On a CPU a training step is compute-bound at these sizes: the cohort's step costs about the
sum of its members' steps (same FLOPs; bigger GEMMs use the cores a little better), so the
engine-only gain is modest; what one cohort saves is everything paid per run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from actlab.engine import RunConfig
from actlab.engine import run as engine_run

from .common import Figure, Options, Result, interleave, median, sample_arrays, to_dataset

NAME = "sweep"
TITLE = "3 activations x 5 learning rates x 2 seeds: one cohort vs 10 runs one after another"

LRS = (0.01, 0.03, 0.05, 0.1, 0.3)
SEEDS = (0, 1)


def _command() -> list[str]:
    exe = Path(sys.executable).with_name("actlab-tui")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "actlab.tui"]


def run(opts: Options) -> Result:
    res = Result(NAME, TITLE)
    epochs = 1 if opts.quick else 2
    device = opts.device.type
    data = to_dataset("sample", sample_arrays(), opts.device)
    config = RunConfig(device=device, epochs=epochs)
    variants: list[dict[str, Any]] = [{"seed": s, "lr": lr} for s in SEEDS for lr in LRS]
    # the same validation split on both sides: a sweep carves 10% by default, a single run none
    base = [*_command(), "--batch", "-q", "-d", "sample", "--device", device, "--epochs", str(epochs)]
    base += ["--validation", "0.1"]
    if os.environ.get("ACTLAB_BENCH_THREADS"):
        base += ["--threads", os.environ["ACTLAB_BENCH_THREADS"]]
    tmp = Path(tempfile.mkdtemp(prefix="actlab-bench-sweep-"))
    counter = iter(range(10**6))

    def out() -> str:
        return str(tmp / f"r{next(counter)}")

    def quiet(cmd: list[str]) -> None:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def one_command() -> None:
        lrs = ",".join(f"{lr:g}" for lr in LRS)
        quiet([*base, "--sweep", f"lr={lrs}", "--seeds", str(len(SEEDS)), "--out", out()])

    def ten_commands() -> None:
        for v in variants:
            quiet([*base, "--lr", f"{v['lr']:g}", "--seed", str(v["seed"]), "--out", out()])

    def one_cohort() -> None:
        engine_run(config, data=data, variants=variants)

    def ten_runs() -> None:
        for v in variants:
            engine_run(config.replace(**v), data=data)

    engine_run(config.replace(max_iterations=10), data=data)  # first-call costs out of the way
    t0 = time.perf_counter()
    commands = interleave({"one": one_command, "ten": ten_commands}, opts.repeats(3, 1), warmup=0)
    engine = interleave({"one": one_cohort, "ten": ten_runs}, opts.repeats(5, 1), warmup=1)
    res.lines.append(
        f"commands: one sweep {median(commands['one']):.2f} s, ten runs {median(commands['ten']):.2f} s; "
        f"in one process: one cohort {median(engine['one']):.3f} s, ten runs {median(engine['ten']):.3f} s "
        f"({epochs} epochs of the sample each; {time.perf_counter() - t0:.0f} s in all)"
    )
    res.figures.append(
        Figure(
            "10 commands / one --sweep command (30 members)",
            median(commands["ten"]) / median(commands["one"]),
            "x",
            2.0,
            True,
            "issue 10",
            note="whole commands: start, load, train, evaluate, write",
        )
    )
    res.figures.append(
        Figure(
            "engine only, 10 runs / one cohort, one process",
            median(engine["ten"]) / median(engine["one"]),
            "x",
            note="same data in memory; steps are compute-bound on a CPU",
        )
    )
    res.details = {"commands": commands, "engine": engine, "epochs": epochs}
    return res
