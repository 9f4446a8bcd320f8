"""The loop: events, divergence at the exact iteration, stop, and no host sync in a step."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from actlab.engine import Control, RunConfig, run
from actlab.engine.data import Dataset
from actlab.engine.events import (
    Diagnostics,
    Evaluation,
    Event,
    MemberDiverged,
    Progress,
    RunFinished,
    RunStarted,
)
from actlab.engine.experiments.results import ResultsWriter, replay
from actlab.engine.lockstep import Trainer


def collect(config: RunConfig, data: Dataset, control: Control | None = None) -> tuple[list[Event], dict]:
    events: list[Event] = []
    summary = run(config, events.append, control, data=data).to_json()
    return events, summary


def test_run_reports_the_stream_and_summary(sample: Dataset, tiny_config: RunConfig) -> None:
    events, summary = collect(tiny_config, sample)
    kinds = [e.kind for e in events if not isinstance(e, Progress)]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    evals = [e for e in events if isinstance(e, Evaluation)]
    assert [e.iteration for e in evals] == [10, 20, 30, 40]
    assert all(0.0 <= a <= 1.0 for e in evals for a in e.accuracy if a is not None)
    assert summary["status"] == "done" and summary["iterations"] == 40
    assert [m["activation"] for m in summary["members"]] == ["sigmoid", "tanh", "relu"]
    assert summary["eval_every"] == 10
    assert summary["dataset"]["train_size"] == 4000 and summary["dataset"]["test_size"] == 1000
    # learning happened: relu beats chance clearly within 40 steps
    assert summary["members"][2]["final_accuracy"] > 0.5


def test_run_is_deterministic(sample: Dataset, tiny_config: RunConfig) -> None:
    a = [e.accuracy for e in collect(tiny_config, sample)[0] if isinstance(e, Evaluation)]
    b = [e.accuracy for e in collect(tiny_config, sample)[0] if isinstance(e, Evaluation)]
    assert a == b


def test_divergence_is_caught_at_the_exact_iteration(sample: Dataset, tiny_config: RunConfig) -> None:
    config = tiny_config.replace(activations=("identity", "relu", "tanh"), lr=0.5, max_iterations=60)
    # the independent answer: train identity alone and watch its loss, syncing every step
    alone = Trainer(config.replace(activations=("identity",)), sample, torch.device("cpu"))
    first_bad = None
    for idx in alone.batches():
        x, y = sample.train_x[idx], sample.train_y[idx]
        logits = alone.cohort.logits(x)
        loss, _ = alone.loss_and_grad(logits, y)
        alone.step(idx)
        if not math.isfinite(loss.item()):
            first_bad = alone.iteration
            break
    assert first_bad is not None and first_bad < 60
    events, summary = collect(config, sample)
    diverged = [e for e in events if isinstance(e, MemberDiverged)]
    assert [(e.member, e.activation, e.iteration) for e in diverged] == [(0, "identity", first_bad)]
    ident, relu, tanh = summary["members"]
    assert ident["status"] == "diverged" and ident["diverged_at"] == first_bad
    assert relu["status"] == "done" and tanh["status"] == "done"
    later = [e for e in events if isinstance(e, Evaluation) and e.iteration >= first_bad]
    assert later and all(e.accuracy[0] is None and e.accuracy[2] is not None for e in later)
    diags = [e for e in events if isinstance(e, Diagnostics) and e.iteration >= first_bad]
    assert diags and all(d.members[0] is None and d.members[2] is not None for d in diags)


def test_stop_ends_the_run_with_status_stopped(sample: Dataset, tiny_config: RunConfig) -> None:
    control = Control()
    seen: list[Event] = []

    def listener(e: Event) -> None:
        seen.append(e)
        if isinstance(e, Evaluation) and e.iteration == 20:
            control.stop()

    config = tiny_config.replace(max_iterations=None, epochs=3)
    summary = run(config, listener, control, data=sample).to_json()
    assert summary["status"] == "stopped"
    assert summary["iterations"] == 20
    assert all(m["status"] == "stopped" for m in summary["members"])
    assert isinstance(seen[-1], RunFinished) and seen[-1].status == "stopped"


def test_results_directory_round_trip(sample: Dataset, tiny_config: RunConfig, tmp_path: Path) -> None:
    out = tmp_path / "run"
    writer = ResultsWriter(out)
    summary = run(tiny_config, writer, data=sample)
    assert json.loads((out / "config.json").read_text())["activations"] == ["sigmoid", "tanh", "relu"]
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary.to_json()))
    assert (out / "summary.csv").read_text().splitlines()[0].startswith("activation,status")
    replayed: list[Event] = []
    assert replay(out, replayed.append).to_json() == on_disk
    assert isinstance(replayed[0], RunStarted)
    assert not any(isinstance(e, Progress) for e in replayed)


def test_interrupted_run_leaves_readable_files(
    sample: Dataset, tiny_config: RunConfig, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    writer = ResultsWriter(out)

    class Crash(Exception):
        pass

    def listener(e: Event) -> None:
        writer(e)
        if isinstance(e, Evaluation) and e.iteration == 30:
            raise Crash

    with pytest.raises(Crash):
        run(tiny_config.replace(max_iterations=None, epochs=2, batch_size=200), listener, data=sample)
    # a torn last line (a kill mid-write) is tolerated too
    with open(out / "events.jsonl", "a") as f:
        f.write('{"type": "evalua')
    events = []
    summary = replay(out, events.append).to_json()
    assert summary["iterations"] == 30
    assert json.loads((out / "summary.json").read_text())["epochs_completed"] == 1


def test_results_writer_refuses_a_used_directory(
    sample: Dataset, tiny_config: RunConfig, tmp_path: Path
) -> None:
    from actlab.engine.experiments.store import ResultsError

    run(tiny_config.replace(max_iterations=5), ResultsWriter(tmp_path), data=sample)
    with pytest.raises(ResultsError, match="already holds a run"):
        ResultsWriter(tmp_path)


def test_step_makes_no_host_sync(
    sample: Dataset, tiny_config: RunConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between evaluations a step never reads a value back to the host."""
    config = tiny_config.replace(clip="l2", l1=1e-5, weight_decay=1e-4, dropout=0.1, optimizer="adam")
    trainer = Trainer(config, sample, torch.device("cpu"))
    batches = trainer.batches()[:5]

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("host sync inside a training step")

    for name in ("item", "cpu", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__"):
        monkeypatch.setattr(torch.Tensor, name, forbidden)
    for idx in batches:
        trainer.step(idx)
    monkeypatch.undo()
    assert trainer.iteration == 5 and bool(trainer.st.alive.all())
