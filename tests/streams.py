"""A small, valid event stream made by hand (no training), for the readers' tests."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from actlab.engine import RunConfig
from actlab.engine.events import (
    Diagnostics,
    EpochFinished,
    Evaluation,
    Event,
    MemberDiverged,
    RunFinished,
    RunStarted,
)

MEMBERS = ["sigmoid", "tanh", "relu"]


def layer(grad: float) -> dict[str, object]:
    return {
        "grad_norm": grad,
        "saturated_fraction": 0.1,
        "dead_fraction": None,
        "activation_mean": 0.5,
        "activation_std": 0.2,
        "preact_hist": [0.25, 0.5, 0.25],
    }


def events(finished: bool = True) -> list[Event]:
    config = RunConfig(activations=tuple(MEMBERS), epochs=2, depth=1, width=8).to_dict()
    out: list[Event] = [
        RunStarted(
            config=config,
            members=MEMBERS,
            baseline="sigmoid",
            dataset={
                "name": "sample",
                "source": "made by hand",
                "train_size": 40,
                "test_size": 10,
                "notice": None,
            },
            device="cpu",
            eval_every=5,
            diagnostics_every=10,
            iterations_per_epoch=10,
            total_iterations=20,
            layer_sizes=[784, 8, 10],
        ),
        Evaluation(5, 1, [0.5, 0.82, 0.85], [1.2, 0.6, 0.5], [1.3, 0.7, 0.6]),
        Evaluation(10, 1, [0.7, 0.91, 0.9], [0.9, 0.4, 0.35], [1.0, 0.5, 0.4]),
        Diagnostics(
            10,
            [
                {"layers": [layer(1e-3)], "output_grad_norm": 0.1, "clipping": None},
                {"layers": [layer(0.2)], "output_grad_norm": 0.1, "clipping": None},
                None,
            ],
            [-1.0, 0.0, 1.0, 2.0],
        ),
        EpochFinished(1, 10, 10, 0.5, 0.1),
        MemberDiverged(2, "relu", 12),
        Evaluation(15, 2, [0.81, 0.93, None], [0.7, 0.3, None], [0.8, 0.35, None]),
    ]
    if finished:
        out += [
            Evaluation(20, 2, [0.85, 0.95, None], [0.6, 0.25, None], [0.7, 0.3, None]),
            EpochFinished(2, 20, 10, 0.5, 0.1),
            RunFinished("done", 20, 1.2),
        ]
    return out


def lines(finished: bool = True) -> list[str]:
    return [json.dumps(e.to_dict(), separators=(",", ":")) for e in events(finished)]


def write_run(directory: Path, text: str | bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    data = text.encode() if isinstance(text, str) else text
    (directory / "events.jsonl").write_bytes(data)
    return directory


def long_run(
    evaluations: int, *, seed: int = 0, evals_per_epoch: int = 50, diagnostics_every_evals: int = 5
) -> Iterator[Event]:
    """A long, deterministic stream as the engine writes it (three members, two hidden layers,
    clipping on): `evaluations` evaluations, diagnostics every few, an epoch's end every
    `evals_per_epoch`, one member diverging two thirds in. Accuracy climbs with noise and dips
    now and then, so crossings come and go; the training loss has spikes."""
    rng = random.Random(seed)
    eval_every, members = 10, ["sigmoid", "tanh", "relu"]
    config = RunConfig(
        activations=tuple(members), clip="l2", clip_threshold=1.0, eval_every=eval_every, epochs=1
    ).to_dict()
    total = evaluations * eval_every
    yield RunStarted(
        config=config,
        members=members,
        baseline="sigmoid",
        dataset=dict(name="sample", source="made up", train_size=4000, test_size=1000, notice=None),
        device="cpu",
        eval_every=eval_every,
        diagnostics_every=eval_every * diagnostics_every_evals,
        iterations_per_epoch=eval_every * evals_per_epoch,
        total_iterations=total,
        layer_sizes=[784, 128, 128, 10],
    )
    diverge_at = 2 * evaluations // 3
    alive = [True, True, True]
    edges = [-6.0 + 0.5 * i for i in range(25)]
    for k in range(1, evaluations + 1):
        it, epoch = k * eval_every, (k - 1) // evals_per_epoch + 1
        if k == diverge_at:
            alive[2] = False
            yield MemberDiverged(2, "relu", it - 3)
        acc: list[float | None] = []
        loss: list[float | None] = []
        for m in range(3):
            if not alive[m]:
                acc.append(None)
                loss.append(None)
                continue
            rise = 1 - 0.9 * math.exp(-k / (200 * (m + 1)))
            dip = 0.3 if rng.random() < 0.01 else 0.0
            acc.append(round(min(1.0, max(0.0, rise - dip + rng.gauss(0, 0.01))), 4))
            spike = 50.0 if rng.random() < 0.005 else 1.0
            loss.append(round(spike * (2.5 * (1.05 - rise) + abs(rng.gauss(0, 0.02))), 5))
        yield Evaluation(it, epoch, acc, [None if v is None else v * 1.1 for v in loss], loss)
        if k % diagnostics_every_evals == 0:
            reports: list[dict[str, Any] | None] = []
            for m in range(3):
                if not alive[m]:
                    reports.append(None)
                    continue
                layers = []
                for _ in range(2):
                    stats = layer(10 ** rng.uniform(-5, 0))
                    stats["preact_hist"] = [round(rng.random(), 4) for _ in range(24)]
                    layers.append(stats)
                norm = 10 ** rng.uniform(-1, 2)
                clipping = {
                    "clipped_fraction": round(rng.random(), 3),
                    "clipped_fraction_total": 0.5,
                    "preclip_norm": norm,
                    "preclip_norm_max": 2 * norm,
                    "threshold": 1.0,
                }
                reports.append({"layers": layers, "output_grad_norm": norm / 10, "clipping": clipping})
            yield Diagnostics(it, reports, edges)
        if k % evals_per_epoch == 0 or k == evaluations:
            yield EpochFinished(epoch, it, eval_every * evals_per_epoch, 1.5, 0.2)
    yield RunFinished("done", total, 3.0 * evaluations / evals_per_epoch)
