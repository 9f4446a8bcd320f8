"""Time per epoch vs depth (1, 2, 4, 8 hidden layers at width 128) and width (64 ... 1024
at depth 2), 3 members (sigmoid, tanh, relu), batch 64, full-size data (60,000 images).

Kept short: each shape trains a few hundred steps in turns with all the others (round
robin), one evaluation is timed, and the epoch is scaled from those: iterations per epoch
x step + evaluations per epoch (default cadence, plus the one at the epoch's end) x eval.
"""

from __future__ import annotations

import time
from functools import partial

from actlab.engine import RunConfig
from actlab.engine.train import resolve_eval_every

from .common import EngineLoop, Figure, Options, Result, full_dataset, interleave, median, sync

NAME = "scaling"
TITLE = "Time per epoch vs depth and width (3 members, batch 64, 60,000 images, scaled)"

DEPTHS = (1, 2, 4, 8)
WIDTHS = (64, 128, 256, 512, 1024)


def run(opts: Options) -> Result:
    res = Result(NAME, TITLE)
    data = full_dataset(opts.device)
    shapes = sorted({(d, 128) for d in DEPTHS} | {(2, w) for w in WIDTHS})
    n = 20 if opts.quick else 100
    loops = {
        s: EngineLoop(RunConfig(depth=s[0], width=s[1], device=opts.device.type), data, opts.device)
        for s in shapes
    }
    step = interleave(
        {f"{d}x{w}": partial(e.train, n, evaluate=False) for (d, w), e in loops.items()},
        opts.repeats(3, 1),
    )

    def eval_time(e: EngineLoop) -> float:
        sync(opts.device)
        t0 = time.perf_counter()
        e.evaluate()
        return time.perf_counter() - t0

    ev = interleave({f"{d}x{w}": partial(eval_time, e) for (d, w), e in loops.items()}, opts.repeats(5, 1))
    any_loop = next(iter(loops.values()))
    ipe = any_loop.trainer.iterations_per_epoch
    n_eval = resolve_eval_every(RunConfig(), opts.device, int(data.test_x.shape[0]))
    evals = ipe // n_eval + (0 if ipe % n_eval == 0 else 1)
    epoch = {k: ipe * median(step[k]) + evals * median(ev[k]) for k in step}
    base = epoch["2x128"]
    res.lines.append(
        f"{ipe} iterations an epoch, {evals} evaluations (every {n_eval}); "
        f"step timed over {n} iterations a turn"
    )
    res.lines.append("  depth x width   step (ms)   eval (ms)   epoch (s)   vs 2x128")
    for d, w in shapes:
        k = f"{d}x{w}"
        res.lines.append(
            f"  {d:>5} x {w:<5} {median(step[k]) * 1e3:>10.3f} {median(ev[k]) * 1e3:>11.2f} "
            f"{epoch[k]:>11.2f} {epoch[k] / base:>9.2f}x"
        )
    res.figures += [
        Figure("epoch, default 2x128 (3 members)", base, "s"),
        Figure("epoch 8x128 / 1x128", epoch["8x128"] / epoch["1x128"], "x"),
        Figure("epoch 2x1024 / 2x64", epoch["2x1024"] / epoch["2x64"], "x"),
    ]
    res.details = {
        "iterations_per_epoch": ipe,
        "evaluations_per_epoch": evals,
        "epoch_s": epoch,
        "step_s": step,
        "eval_s": ev,
    }
    return res
