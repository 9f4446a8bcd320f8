"""K members in lockstep vs K separate single-member runs of the engine (K = 1, 3, 5, 8).

For every K, one round times n steps of the K-member cohort and n steps of each of K
one-member trainers (the same activations, one at a time); rounds alternate A B A B. The
usual loop's training step is timed in the same rounds at K = 5, so the time per
member-step can be set against it. Training steps only: evaluation is measured in `eval`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from actlab.engine import ACTIVATIONS, RunConfig

from .common import (
    EngineLoop,
    Figure,
    Options,
    Result,
    TorchvisionRoot,
    UsualLoop,
    default_sizes,
    full_dataset,
    full_size_arrays,
    interleave,
    mean_std,
    median,
)

NAME = "cohort"
TITLE = "Lockstep cohort of K members vs K separate runs (training steps)"

ORDER = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "silu", "softplus", "softsign", "identity")


def members(k: int) -> tuple[str, ...]:
    names = [a for a in ORDER if a in ACTIVATIONS]
    return tuple(names[:k])


def separate_step(solo: list[EngineLoop], n: int) -> float:
    """n steps of each one-member run in turn; the sum of their seconds per step."""
    return sum(s.train(n, evaluate=False) for s in solo)


def run(opts: Options) -> Result:
    res = Result(NAME, TITLE)
    name, arrays = full_size_arrays()
    data = full_dataset(opts.device)
    n = 20 if opts.quick else 40  # short turns, many rounds: robust to a noisy neighbour
    reps = opts.repeats(9, 2)
    dev = opts.device.type
    curve: dict[int, dict[str, float]] = {}
    usual_step = usual_best = float("nan")
    root = TorchvisionRoot(arrays)
    try:
        for k in (1, 3, 5, 8):
            acts = members(k)
            lock = EngineLoop(RunConfig(activations=acts, device=dev), data, opts.device)
            solo = [EngineLoop(RunConfig(activations=(a,), device=dev), data, opts.device) for a in acts]
            contenders: dict[str, Callable[[], float | None]] = {
                "lockstep": partial(lock.train, n, evaluate=False),
                "separate": partial(separate_step, solo, n),
            }
            if k == 5:
                usual = UsualLoop(root.dir, default_sizes(data), mean_std(arrays), opts.device)
                contenders["usual"] = partial(usual.train, n, evaluate=False)
            s = interleave(contenders, reps)
            curve[k] = {
                "lockstep_step_s": median(s["lockstep"]),
                "separate_step_s": median(s["separate"]),
                "lockstep_best_s": min(s["lockstep"]),
            }
            if k == 5:
                usual_step = median(s["usual"])
                usual_best = min(s["usual"])
            del lock, solo
            if opts.device.type == "cuda":
                torch.cuda.empty_cache()
    finally:
        root.close()
    res.lines.append(f"data: {name}; batch 64; 784-128-128-10; {n} steps a turn, {reps} rounds")
    res.lines.append(f"   K  {'members':<40} lockstep step  K separate steps  speedup  per member-step")
    for k, c in curve.items():
        lk, sp = c["lockstep_step_s"], c["separate_step_s"]
        res.lines.append(
            f"  {k:>2}  {','.join(members(k)):<40} {lk * 1e3:>10.3f} ms  {sp * 1e3:>13.3f} ms  "
            f"{sp / lk:>6.2f}x  {lk / k * 1e3:>10.3f} ms"
        )
    res.lines.append(f"usual loop training step (same rounds as K = 5): {usual_step * 1e3:.3f} ms")
    for k in (3, 5, 8):
        res.figures.append(
            Figure(
                f"K={k}: lockstep speedup vs {k} separate runs",
                curve[k]["separate_step_s"] / curve[k]["lockstep_step_s"],
                "x",
                1.5 if k == 5 else 1.0,
                True,
                "issue 2" if k == 5 else "issue 5: wins",
            )
        )
    per_member = curve[5]["lockstep_step_s"] / 5
    res.figures.append(
        Figure(
            "K=5: usual loop step / engine member-step", usual_step / per_member, "x", 15.0, True, "issue 5"
        )
    )
    res.figures.append(
        Figure("K=5: the same, best turns", usual_best / (curve[5]["lockstep_best_s"] / 5), "x")
    )
    res.details = {"data": name, "steps_per_turn": n, "curve": curve, "usual_step_s": usual_step}
    return res
