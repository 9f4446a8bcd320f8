"""A small, valid event stream made by hand (no training), for the readers' tests."""

from __future__ import annotations

import json
from pathlib import Path

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
