"""Epoch time when another process competes for the CPU: `--threads auto` (threads chosen by
timing the run's own steps, `engine.threads`) against the default (PyTorch's count, one thread
per core, fixed).

Whole one-epoch runs of the default comparison (3 members, 784-128-128-10, batch 64) on
MNIST-sized data (60,000 images, 937 steps), each contender in turn, quiet and then with one
busy single-threaded process (a Python loop) that the benchmark starts before the contended
turns and kills after them; the order of the contenders alternates each round. The epoch's
time is the run's own (`EpochFinished.seconds`: training steps, evaluation left out); with
the default threads under contention the run stops after 300 steps (it is that slow), any run
stops after TURN_S seconds, and every figure compares time per step (--quick: 300-step runs
throughout, one round). Each turn also records how many cores other processes kept busy (from
/proc/stat, the competitor's own CPU time taken off): on a shared machine a "quiet" turn may
not be, so each figure is the median of the turns where others kept at most NOISE cores busy
(all its turns, and a NOT QUIET line, when none were).

Figures: contended epoch / quiet epoch with `--threads auto` (issue 10's bound: 1.5x), the
quiet epoch of auto against the default (what opting in costs on a quiet machine; reported:
the default is the fixed count since issue 16, because a count that follows the load makes
the numbers follow it too), and the default's contended / quiet epoch, for reference.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from actlab.engine import Control, RunConfig, threads
from actlab.engine import run as engine_run
from actlab.engine.data import Dataset
from actlab.engine.events import EpochFinished, Event, Progress

from .common import Figure, Options, Result, full_dataset, median

NAME = "contention"
TITLE = "Epoch time with one competing busy process: --threads auto vs the default (fixed)"

SPIN = "while True:\n    pass\n"
NOISE = 0.15  # cores other processes may keep busy in a turn that counts
TURN_S = 6.0  # a turn stops there (what it trained so far counts, per step)


def _busy_s() -> float:
    """CPU seconds all processes have spent (Linux /proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_s(competitor: subprocess.Popen[bytes] | None) -> float:
    """CPU seconds of this process and of the competitor (Linux /proc/PID/stat)."""
    t = os.times()
    own = t.user + t.system + t.children_user + t.children_system
    if competitor is not None:
        try:
            fields = Path(f"/proc/{competitor.pid}/stat").read_text().rsplit(")", 1)[1].split()
            own += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return own


@contextmanager
def competitor() -> Iterator[subprocess.Popen[bytes]]:
    """One busy single-threaded process for the block's duration."""
    proc = subprocess.Popen([sys.executable, "-c", SPIN])
    try:
        time.sleep(0.2)  # its interpreter started and spinning (a load, not a synchronisation)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def step_time(config: RunConfig, data: Dataset, fixed: int | None) -> tuple[float, int | None]:
    """One run of one epoch (or its first `max_iterations`, or what it trained in TURN_S):
    seconds per training step and the thread count it ended on. `fixed` None: --threads auto."""
    if fixed is None:
        threads.auto()
    else:
        threads.fixed(fixed)
    out: list[EpochFinished] = []
    control = Control()

    def listener(event: Event) -> None:
        if isinstance(event, EpochFinished):
            out.append(event)
        elif isinstance(event, Progress) and event.elapsed_s > TURN_S:
            control.stop()  # the default threads starved by a busy machine: 40x slower seen

    engine_run(config, listener, control, data=data)
    return out[0].seconds / out[0].iterations, out[0].threads if fixed is None else fixed


def run(opts: Options) -> Result:
    res = Result(NAME, TITLE)
    data = full_dataset(opts.device)
    config = RunConfig(device=opts.device.type, epochs=1)
    if opts.quick:
        config = config.replace(max_iterations=300)
    # the default (PyTorch's threads) under contention: 3-10x slower, so a shorter run (per step alike)
    reference = config.replace(max_iterations=300)
    cores = threads.DEFAULT_THREADS
    default, pytorch = "--threads auto", f"default ({cores} fixed)"
    contenders = {default: None, pytorch: cores}
    seconds: dict[tuple[str, str], list[float]] = {}
    chosen: dict[tuple[str, str], list[int | None]] = {}
    others: dict[tuple[str, str], list[float]] = {}  # cores others kept busy during each turn
    previous = threads.fixed(None)
    omp = os.environ.pop("OMP_NUM_THREADS", None)  # it would fix the count (`--threads`)
    try:
        step_time(config.replace(max_iterations=100), data, None)  # untimed warm-up
        for r in range(opts.repeats(4, 1)):
            order = list(contenders.items())
            order = order if r % 2 == 0 else order[::-1]
            for where in ("quiet", "contended"):
                with competitor() if where == "contended" else nullcontext() as proc:
                    for name, fixed in order:
                        cfg = reference if (name, where) == (pytorch, "contended") else config
                        b0, o0, w0 = _busy_s(), _own_s(proc), time.perf_counter()
                        s, t = step_time(cfg, data, fixed)
                        busy = _busy_s() - b0 - (_own_s(proc) - o0)
                        others.setdefault((name, where), []).append(busy / (time.perf_counter() - w0))
                        seconds.setdefault((name, where), []).append(s)
                        chosen.setdefault((name, where), []).append(t)
    finally:
        if omp is not None:
            os.environ["OMP_NUM_THREADS"] = omp
        threads.fixed(previous)
    per_epoch = len(data.train_x) // config.batch_size
    res.lines.append(
        f"one epoch = {per_epoch} steps; runs of {config.max_iterations or per_epoch} steps "
        f"({reference.max_iterations} for the default contended), epoch time = step x {per_epoch}"
    )
    # a turn counts if other processes (the competitor aside) kept at most NOISE cores busy
    m: dict[tuple[str, str], float] = {}
    unclean = []
    for key, values in seconds.items():
        kept = [v for v, o in zip(values, others[key]) if o <= NOISE]
        m[key] = median(kept or values)
        if not kept:
            unclean.append(" ".join(key))
        name, where = key
        res.lines.append(
            f"{name:<20} {where:<9} epoch {m[key] * per_epoch:6.3f} s "
            f"[{min(values) * per_epoch:.3f}-{max(values) * per_epoch:.3f}]  step {m[key] * 1e3:.3f} ms  "
            f"{len(kept)}/{len(values)} turns clean (others busy: "
            f"{' '.join(f'{o:.2f}' for o in others[key])} cores)  threads at the end {chosen[key]}"
        )
    if unclean:
        res.lines.append(
            f"NOT QUIET: no turn of {', '.join(unclean)} had other processes below {NOISE} cores; "
            "its median is over all its turns: rerun when the machine is idle"
        )
    res.figures += [
        Figure(
            "contended / quiet epoch, --threads auto",
            m[(default, "contended")] / m[(default, "quiet")],
            "x",
            1.5,
            False,
            "issue 10",
            note=f"vs the default quiet: {m[(default, 'contended')] / m[(pytorch, 'quiet')]:.2f}x",
        ),
        Figure(
            "quiet epoch, --threads auto / the default",
            m[(default, "quiet")] / m[(pytorch, "quiet")],
            "x",
            note="what opting in costs quiet (issue 10 wanted <= 1.05 when auto was the default)",
        ),
        Figure(
            "contended / quiet epoch, the default (fixed)",
            m[(pytorch, "contended")] / m[(pytorch, "quiet")],
            "x",
            note="for reference: what --threads auto avoids",
        ),
    ]
    res.details = {
        "iterations_per_epoch": per_epoch,
        "step_s": {f"{n}, {w}": v for (n, w), v in seconds.items()},
        "threads": {f"{n}, {w}": v for (n, w), v in chosen.items()},
        "others_busy_cores": {f"{n}, {w}": v for (n, w), v in others.items()},
    }
    return res
