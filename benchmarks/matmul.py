"""Fraction of the machine's own matrix-multiply throughput a large-batch step reaches.

The step's FLOPs are counted from its GEMMs: per member and layer (in -> out) at batch B,
the forward product (2*B*in*out), the weight gradient (2*B*in*out) and, except for the first
layer, the input gradient (2*B*in*out). The machine's throughput is torch.mm on exactly
those shapes, timed in the same rounds (A B A B) as the engine's step.
"""

from __future__ import annotations

import time
from functools import partial

import torch
from actlab.engine import RunConfig

from .common import EngineLoop, Figure, Options, Result, default_sizes, full_dataset, interleave, median, sync

NAME = "matmul"
TITLE = "Share of the machine's matmul throughput reached by a large-batch step"

BATCH = 1024
MEMBERS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu")


def gemm_shapes(sizes: list[int], batch: int) -> list[tuple[int, int, int]]:
    """(m, k, n) of every GEMM one member's step does: [m, k] @ [k, n]."""
    shapes = []
    for i in range(len(sizes) - 1):
        n_in, n_out = sizes[i], sizes[i + 1]
        shapes.append((batch, n_in, n_out))  # forward
        shapes.append((n_in, batch, n_out))  # weight gradient
        if i > 0:
            shapes.append((batch, n_out, n_in))  # input gradient
    return shapes


def run(opts: Options) -> Result:
    res = Result(NAME, TITLE)
    data = full_dataset(opts.device)
    sizes = default_sizes(data)
    rows = []
    reps = opts.repeats(9, 2)
    for acts in (("relu",), MEMBERS):
        K = len(acts)
        engine = EngineLoop(
            RunConfig(activations=acts, batch_size=BATCH, device=opts.device.type), data, opts.device
        )
        shapes = gemm_shapes(sizes, BATCH)
        flops = K * sum(2 * m * k * n for m, k, n in shapes)
        mats = [
            (torch.randn(m, k, device=opts.device), torch.randn(k, n, device=opts.device))
            for m, k, n in shapes
        ]
        n_steps = 3 if opts.quick else 8

        def mm_pass(
            mats: list[tuple[torch.Tensor, torch.Tensor]] = mats, K: int = K, n: int = n_steps
        ) -> float:
            sync(opts.device)
            t0 = time.perf_counter()
            for _ in range(n):
                for _k in range(K):
                    for a, b in mats:
                        torch.mm(a, b)
            sync(opts.device)
            return (time.perf_counter() - t0) / n

        s = interleave({"step": partial(engine.train, n_steps, evaluate=False), "mm": mm_pass}, reps)
        step_gflops = flops / median(s["step"]) / 1e9
        mm_gflops = flops / median(s["mm"]) / 1e9
        rows.append((acts, flops, step_gflops, mm_gflops, median(s["step"])))
    res.lines.append(
        f"batch {BATCH}; network {'-'.join(map(str, sizes))}; GEMM FLOPs counted: forward + both backward"
    )
    for acts, flops, sg, mg, st in rows:
        res.lines.append(
            f"  K={len(acts)}: {flops / 1e6:.0f} MFLOP a step in {st * 1e3:.2f} ms = {sg:.1f} GFLOP/s; "
            f"torch.mm at the same shapes {mg:.1f} GFLOP/s"
        )
    for acts, _, sg, mg, _ in rows:
        res.figures.append(Figure(f"K={len(acts)} step throughput / torch.mm throughput", sg / mg, ""))
    res.details = {
        "batch": BATCH,
        "rows": [
            {"members": list(a), "flops": f, "step_gflops": sg, "mm_gflops": mg, "step_s": st}
            for a, f, sg, mg, st in rows
        ],
    }
    return res
