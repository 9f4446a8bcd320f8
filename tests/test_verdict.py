"""The answer a reviewer accepts (issue 21): a validation split carved once, choices made on it
alone (permuting the test labels changes no choice), every pair of members, and the verdict in
words generated from the figures."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from actlab.engine import RunConfig
from actlab.engine.config import ConfigError
from actlab.engine.data import DataError, Dataset, carve_validation, load, load_sample
from actlab.engine.experiments.sweep_plan import Plan
from actlab.engine.experiments.sweep_results import sweep_results
from actlab.engine.metrics import aggregate
from actlab.engine.results_model import Summary
from actlab.engine.verdict import Standing, choose
from sweeps import finished_sweep

# ------------------------------------------------------------------------------ the split


def test_the_validation_split_is_stratified_fixed_and_its_own_seed(cache_dir: Path) -> None:
    _, ytr, _, _ = load_sample(cache_dir)
    val, train = carve_validation(ytr, 0.1, seed=0)
    assert len(val) == 400 and len(train) == 3600 and not set(val) & set(train)
    assert np.bincount(ytr[val]).tolist() == [round(c / 10) for c in np.bincount(ytr)]  # per class
    again, _ = carve_validation(ytr, 0.1, seed=0)
    other, _ = carve_validation(ytr, 0.1, seed=1)
    assert np.array_equal(val, again) and not np.array_equal(val, other)
    counted, _ = carve_validation(ytr, 250, seed=0)
    assert len(counted) == 250
    nothing, everything = carve_validation(ytr, 0, seed=0)
    assert len(nothing) == 0 and len(everything) == 4000


def test_every_member_and_seed_sees_the_same_split_and_it_is_recorded(cache_dir: Path) -> None:
    cfg = RunConfig(dataset="sample", cache_dir=str(cache_dir), validation=0.1)
    a = load(cfg, torch.device("cpu"))
    b = load(cfg.replace(seed=7, lr=0.3), torch.device("cpu"))  # another seed of the comparison
    assert a.val_x is not None and b.val_x is not None and a.val_y is not None
    assert torch.equal(a.val_x, b.val_x) and torch.equal(a.train_x, b.train_x)
    assert a.info()["validation_size"] == 400 and a.info()["train_size"] == 3600
    # held out: no validation image is among the training images
    train = {bytes(row) for row in a.train_x.numpy().astype(np.float32)}
    assert not any(bytes(row) in train for row in a.val_x.numpy().astype(np.float32))


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (1.5, "a number of images must be whole"),
        (-0.1, "must be 0, a fraction in (0, 1)"),
        (float("nan"), "must be 0"),
    ],
)
def test_a_bad_validation_setting_is_one_line(value: float, words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        RunConfig(validation=value).validate()


def test_a_split_the_data_cannot_give_is_one_line(cache_dir: Path) -> None:
    _, ytr, _, _ = load_sample(cache_dir)
    with pytest.raises(DataError, match="class .* would have no validation image"):
        carve_validation(ytr, 5, seed=0)
    with pytest.raises(DataError, match="only 4000 images"):
        carve_validation(ytr, 4000, seed=0)


def test_auto_validation_is_ten_percent_for_seeds_and_sweeps_and_none_alone() -> None:
    assert RunConfig().resolve_validation(repeated=True).validation == 0.1
    assert RunConfig().resolve_validation(repeated=False).validation == 0.0
    assert RunConfig(validation=300).resolve_validation(repeated=True).validation == 300


# ------------------------------------------------------------------------------ choices


def _standing(label: str, reached: list[int], sustained: list[float | None], final: float) -> Standing:
    return Standing(label, 3, reached, sustained, final)


def test_the_one_rule_highest_threshold_then_fewest_iterations_then_final_accuracy() -> None:
    a = _standing("a", [3, 3, 0], [100, 900, None], 0.95)
    b = _standing("b", [3, 3, 2], [120, 700, 2000], 0.94)  # 0.95 not in every seed
    c = _standing("c", [3, 3, 0], [90, 700, None], 0.96)
    assert choose([a, b, c]) == (2, 1)  # 0.9 decides; b and c tie at 700, c's final is higher
    assert choose([_standing("x", [0], [None], 0.5), _standing("y", [1], [10], 0.6)]) == (1, None)


def _summary(
    seed: int, test: dict[str, tuple[int | None, float]], val: dict[str, tuple[int | None, float]]
) -> Summary:
    members = []
    for name in test:
        (t_it, t_final), (v_it, v_final) = test[name], val[name]
        members.append(
            {
                "activation": name,
                "status": "done",
                "final_accuracy": t_final,
                "thresholds": [{"threshold": 0.9, "first": t_it, "sustained": t_it}],
                "val_final_accuracy": v_final,
                "val_thresholds": [{"threshold": 0.9, "first": v_it, "sustained": v_it}],
            }
        )
    config = {"activations": list(test), "thresholds": [0.9], "epochs": 1, "seed": seed}
    dataset = {
        "name": "t",
        "source": "t",
        "train_size": 9,
        "test_size": 9,
        "notice": None,
        "validation_size": 40,
    }
    return Summary.from_json(
        {"config": config, "baseline": "sigmoid", "members": members, "dataset": dataset, "eval_every": 10}
    )


def test_the_verdict_chooses_on_validation_and_says_so_when_test_disagrees() -> None:
    # validation: relu first in every seed; test: tanh clearly faster in every seed
    runs = [
        _summary(
            s,
            {"sigmoid": (None, 0.80 + d), "tanh": (200 + s, 0.95 + d), "relu": (400 + 3 * s, 0.94 + d)},
            {"sigmoid": (None, 0.80), "tanh": (500, 0.94), "relu": (300 + s, 0.95)},
        )
        for s, d in enumerate([0.0, 0.002, -0.001, 0.001, 0.0])
    ]
    agg = aggregate(runs)
    v = agg.verdict
    assert v is not None and v.recommended == "relu" and v.chosen_on == "validation" and v.threshold == 0.9
    assert "on the validation split (40 images) it is the fastest to 0.9" in v.text
    assert "But on the test split tanh clearly beats relu to 0.9 and on final accuracy" in v.text
    tests = {(p.name, t.measure): t for p in agg.pairs for t in p.tests}
    slower = tests[("relu vs tanh", "0.9")]
    assert slower.clear and slower.estimate is not None and slower.estimate < 1
    assert f"x{1 / slower.estimate:.2f} [" in v.text and "slower (clear)" in v.text
    assert "sigmoid in none" in v.text  # a threshold one never reached: said, with P(first)
    assert len(agg.pairs) == 3 and agg.tests == 4  # 3 pairs x final + tanh vs relu at 0.9


def test_without_a_validation_split_the_choice_is_made_on_test_and_labelled() -> None:
    runs = [
        _summary(
            s, {"sigmoid": (300, 0.9), "relu": (100 + s, 0.93)}, {"sigmoid": (None, 0.0), "relu": (None, 0.0)}
        )
        for s in range(3)
    ]
    for r in runs:  # an older actlab's run: no validation figures at all
        assert r.dataset is not None
        del r.dataset["validation_size"]  # type: ignore[misc]
        for m in r.members:
            m.val_final_accuracy, m.val_thresholds = None, None
    agg = aggregate(runs)
    assert agg.validation_size is None and agg.verdict is not None
    assert agg.verdict.chosen_on == "test" and "no validation split was measured" in agg.verdict.text
    from actlab.engine.experiments.report_sweeps import aggregate_table

    table = aggregate_table(agg)
    assert "Validation final accuracy" in table and "not measured" in table
    assert "0.0000" not in table.split("Validation final accuracy")[1].splitlines()[0]  # never 0


def test_one_seed_and_an_undecided_pair_say_how_many_seeds_would_decide() -> None:
    one = aggregate(
        [
            _summary(
                0, {"sigmoid": (300, 0.9), "relu": (100, 0.93)}, {"sigmoid": (310, 0.9), "relu": (90, 0.93)}
            )
        ]
    )
    assert one.verdict is not None and "With one seed there are no paired intervals" in one.verdict.text
    close = aggregate(
        [
            _summary(
                s,
                {"sigmoid": (300, 0.90 + e), "relu": (290 + 20 * (s % 2), 0.90 - e)},
                {"sigmoid": (300, 0.9), "relu": (280, 0.9)},
            )
            for s, e in enumerate([0.001, -0.002, 0.003, 0.0, -0.001])
        ]
    )
    v = close.verdict
    assert v is not None and v.undecided and v.closest is not None and v.seeds_to_decide is not None
    assert f"About {v.seeds_to_decide} paired seeds (5 now) would decide the closest, {v.closest}" in v.text


# ------------------------------------------------------------- the test split drives no choice


def _permuted_test_labels(data: Dataset) -> Dataset:
    gen = torch.Generator().manual_seed(99)
    return dataclasses.replace(data, test_y=data.test_y[torch.randperm(len(data.test_y), generator=gen)])


def test_permuting_the_test_labels_changes_no_choice(
    small: RunConfig, cache_dir: Path, tmp_path: Path
) -> None:
    cfg = small.replace(activations=("sigmoid", "tanh", "relu"), validation=0.1, thresholds=(0.3, 0.5, 0.7))
    data = load(cfg, torch.device("cpu"))
    axes: list[tuple[str, list[object]]] = [("lr", [0.02, 0.1, 0.4])]
    finished_sweep(tmp_path / "real", cfg, axes, [0, 1], data)  # type: ignore[arg-type]
    plan: Plan = finished_sweep(tmp_path / "permuted", cfg, axes, [0, 1], _permuted_test_labels(data))  # type: ignore[arg-type]
    real, permuted = sweep_results(tmp_path / "real", plan), sweep_results(tmp_path / "permuted", plan)
    # the permutation bites: the test figures are not the same (chance accuracy on test now)
    finals = [[m.final_accuracy_mean for m in p.aggregate.members] for p in real.points if p.aggregate]
    finals_p = [[m.final_accuracy_mean for m in p.aggregate.members] for p in permuted.points if p.aggregate]
    assert finals != finals_p
    assert real.best_lr and permuted.best_lr and all(b.chosen_on == "validation" for b in real.best_lr)
    assert [(b.activation, b.best_lr, b.threshold) for b in real.best_lr] == [
        (b.activation, b.best_lr, b.threshold) for b in permuted.best_lr
    ]
    assert (
        real.heatmap is not None and permuted.heatmap is not None and real.heatmap.chosen_on == "validation"
    )
    assert real.heatmap.threshold == permuted.heatmap.threshold
    winners = [[c.winner for c in r.cells] for r in real.heatmap.rows]
    assert winners == [[c.winner for c in r.cells] for r in permuted.heatmap.rows]
    assert [b.point for b in real.best_points] == [b.point for b in permuted.best_points]
    assert real.verdict is not None and permuted.verdict is not None
    assert real.verdict.recommended == permuted.verdict.recommended
    assert real.verdict.threshold == permuted.verdict.threshold
    for p, q in zip(real.points, permuted.points):  # each point's own verdict too
        assert p.aggregate and q.aggregate and p.aggregate.verdict and q.aggregate.verdict
        assert p.aggregate.verdict.recommended == q.aggregate.verdict.recommended


# ------------------------------------------------------------------------------ the headline command


@pytest.mark.timeout(600)
def test_the_seed_preset_over_five_seeds_prints_every_pair_and_one_verdict_everywhere(
    cache_dir: Path, tmp_path: Path
) -> None:
    """`actlab-tui --batch -d sample --preset seed --seeds 5`: all three pairs and a verdict on
    stdout, the same verdict in report.md and in the app's seeds view (a minute on 2 cores)."""
    out = tmp_path / "seed5"
    cmd = [sys.executable, "-m", "actlab.tui", "--batch", "-d", "sample", "--preset", "seed", "--seeds", "5"]
    env_args = ["--cache-dir", str(cache_dir), "--threads", "1", "--out", str(out), "-q"]
    r = subprocess.run([*cmd, *env_args], capture_output=True, text=True, timeout=580)
    assert r.returncode == 0, r.stderr
    for pair in ("tanh vs sigmoid", "relu vs sigmoid", "relu vs tanh"):
        assert pair in r.stdout
    agg = json.loads((out / "aggregate.json").read_text())
    text = agg["verdict"]["text"]
    assert agg["validation_size"] == 400 and agg["verdict"]["chosen_on"] == "validation"
    assert f"Verdict: {text}" in r.stdout and r.stdout.rstrip().endswith(text)  # the answer, last
    rep = subprocess.run(
        [sys.executable, "-m", "actlab.tui", "report", str(out)], capture_output=True, text=True, timeout=300
    )
    assert rep.returncode == 0, rep.stderr
    assert f"## Verdict\n\n{text}\n" in (out / "report.md").read_text()

    from actlab.tui.app import create_app
    from actlab.tui.screens.seeds import SeedsScreen
    from actlab.tui.widgets.verdict import VerdictPanel
    from pilots import until

    async def scenario() -> None:
        app = create_app(open_dir=str(out), save_runs=False)
        async with app.run_test(size=(100, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, SeedsScreen), "the seeds view")
            shown = app.screen.query_one(VerdictPanel).shown.plain
            assert all(sentence in shown for sentence in agg["verdict"]["sentences"])
            assert " ".join(agg["verdict"]["sentences"]) == text

    asyncio.run(scenario())


# ------------------------------------------------------------------------------ every format


def _open(*args: str) -> str:
    r = subprocess.run(
        [sys.executable, "-m", "actlab.tui", *args], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


ROOT = Path(__file__).parent.parent
SEEDS = "tests/fixtures/tui_seeds"  # a seeds run with a validation split (see snapshot_apps/saved.py)


def test_every_pair_and_the_verdict_in_every_format_and_in_compare() -> None:
    import csv
    import io

    from actlab.engine.experiments.opened import OpenedSeeds, open_results

    opened = open_results(str(ROOT / SEEDS))
    assert isinstance(opened, OpenedSeeds) and opened.aggregate.verdict is not None
    text = opened.aggregate.verdict.text  # as read now from the seeds' summaries
    table = _open("--batch", "--open", SEEDS)
    assert "Every pair" in table and table.rstrip().endswith(f"Verdict: {text}")
    md = _open("--batch", "--open", SEEDS, "--format", "md")
    assert "**Every pair**" in md and f"**Verdict.** {text}" in md
    members, pairs = _open("--batch", "--open", SEEDS, "--format", "csv").strip().split("\n\n")
    rows = list(csv.DictReader(io.StringIO(pairs)))
    assert {(r["a"], r["b"]) for r in rows} == {("sigmoid", "tanh"), ("sigmoid", "relu"), ("tanh", "relu")}
    assert len(rows) == 3 * 4 and list(csv.DictReader(io.StringIO(members)))[0]["activation"] == "sigmoid"
    data = json.loads(_open("--batch", "--open", SEEDS, "--format", "json"))
    assert data["aggregate"]["verdict"]["text"] == text and len(data["aggregate"]["pairs"]) == 3
    compared = _open("compare", SEEDS)  # a seeds directory given alone: its aggregate, pairs and verdict
    assert "relu vs tanh" in compared and text in compared
