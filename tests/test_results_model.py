"""The typed results model: files written by older versions still read, what is read is what
was stored, and a damaged file is one line naming the field (issue 17)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from actlab.engine.experiments.opened import OpenedRun, OpenedSweep, open_results
from actlab.engine.experiments.store import ResultsError
from actlab.engine.experiments.sweep_dir import run_summary
from actlab.engine.results_model import Aggregate, Summary, SweepResults
from actlab.engine.schema import SchemaError

FIXTURES = Path(__file__).parent / "fixtures"
OLD_RUNS = ["tui_finished", "tui_diverged", "tui_custom"]  # summary.json written by older actlab


@pytest.mark.parametrize("name", OLD_RUNS)
def test_an_old_summary_reads_and_keeps_every_stored_value(name: str) -> None:
    stored = json.loads((FIXTURES / name / "summary.json").read_text())
    summary = Summary.from_json(stored)
    again = summary.to_json()
    # what the old file holds comes back as it was; fields it predates take their defaults
    assert {k: again[k] for k in stored if k != "members"} == {
        k: v for k, v in stored.items() if k != "members"
    }
    members = again["members"]
    assert isinstance(members, list)
    for old, new in zip(stored["members"], members, strict=True):
        assert {k: new[k] for k in old} == old
    assert [m.activation for m in summary.members] == stored["config"]["activations"]
    assert set(again) - set(stored) <= {"cohort", "cost_measurement"}


@pytest.mark.parametrize("name", OLD_RUNS)
def test_an_old_run_opens_as_a_run_and_replays(name: str) -> None:
    opened = open_results(str(FIXTURES / name))
    assert isinstance(opened, OpenedRun)
    summary = opened.replay()
    stored = json.loads((FIXTURES / name / "summary.json").read_text())
    assert summary.status == stored["status"]
    assert [m.activation for m in summary.members] == [m["activation"] for m in stored["members"]]
    assert [[t.sustained for t in m.thresholds] for m in summary.members] == [
        [t["sustained"] for t in m["thresholds"]] for m in stored["members"]
    ]


def kept(new: object, old: object, skip: frozenset[str] = frozenset(), where: str = "") -> list[str]:
    """Where `new` differs from `old` on what `old` holds (keys `new` adds are allowed; keys in
    `skip` are not compared; numbers to 1e-4): an empty list when every stored value came back
    as it was."""
    if isinstance(old, dict):
        if not isinstance(new, dict):
            return [where]
        return [
            p
            for k, v in old.items()
            if k not in skip
            for p in kept(new.get(k, KeyError), v, skip, f"{where}.{k}")
        ]
    if isinstance(old, list):
        if not isinstance(new, list) or len(new) != len(old):
            return [where]
        return [p for i, (n, o) in enumerate(zip(new, old)) for p in kept(n, o, skip, f"{where}[{i}]")]
    if isinstance(old, float) and isinstance(new, (int, float)):
        # the t quantiles are computed now, not read off a 4-decimal table: the last digit may move
        return [] if new == pytest.approx(old, rel=1e-4) else [where]
    return [] if new == old else [where]


# what Holm's adjustment over every pair (issue 21) decides anew for a stored aggregate: whether
# a paired speedup is clear, and its sentence (now with the adjusted interval)
ADJUSTED = frozenset({"clear", "statement"})


def test_a_stored_sweep_reads_back_as_written() -> None:
    root = FIXTURES / "tui_sweep"
    opened = open_results(str(root))
    assert isinstance(opened, OpenedSweep)
    stored = json.loads((root / "sweep-results.json").read_text())
    results = SweepResults.from_json(stored)
    assert kept(results.to_json(), stored) == []  # every stored key, as stored (runner-ups included)
    point = root / results.points[0].name
    agg = json.loads((point / "aggregate.json").read_text())
    assert kept(Aggregate.from_json(agg).to_json(), agg) == []
    # the results computed now from the stored summaries are the ones the file holds, but for
    # what the adjustment over every pair decides; the sweep had no validation split, so every
    # choice says it was made on test, and a validation figure is "not measured" (None), not 0
    now = opened.results
    assert kept(now.to_json(), stored, ADJUSTED) == []
    assert now.heatmap is not None and now.heatmap.chosen_on == "test"
    assert now.verdict is not None and now.verdict.chosen_on == "test"
    for p in now.points:
        assert p.aggregate is not None and p.aggregate.validation_size is None
        assert all(m.val_final_accuracy_mean is None for m in p.aggregate.members)


def test_a_damaged_summary_is_one_line_naming_the_field(tmp_path: Path) -> None:
    src = FIXTURES / "tui_finished" / "summary.json"
    stored = json.loads(src.read_text())
    stored["members"][1]["thresholds"][0]["sustained"] = "soon"
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "summary.json").write_text(json.dumps(stored))
    with pytest.raises(ResultsError) as info:
        run_summary(tmp_path, "run")
    message = str(info.value)
    assert "\n" not in message
    assert message.endswith(
        "summary.json: members[1].thresholds[0].sustained: expected an integer, got 'soon'"
    )


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d["members"][0].pop("activation"), "members[0]: missing field 'activation'"),
        (lambda d: d.update(config={"epochs": 1}), "config: missing field 'activations'"),
        (lambda d: d.update(iterations=True), "iterations: expected an integer, got True"),
        (lambda d: d["members"][0].update(final_accuracy=[0.9]), "final_accuracy: expected a number"),
    ],
)
def test_the_validator_names_what_is_wrong(change, problem: str) -> None:  # type: ignore[no-untyped-def]
    stored = json.loads((FIXTURES / "tui_diverged" / "summary.json").read_text())
    change(stored)
    with pytest.raises(SchemaError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        Summary.from_json(stored)


def test_a_summary_from_a_run_round_trips() -> None:
    opened = open_results(str(FIXTURES / "diag_clip"))
    assert isinstance(opened, OpenedRun)
    summary = opened.replay()
    assert summary.members and summary.members[0].diagnostics is not None
    assert Summary.from_json(json.loads(json.dumps(summary.to_json()))) == summary


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d.update(seeds=["x"]), "not a valid sweep plan (seeds[0]: expected an integer, got 'x')"),
        (lambda d: d.update(axes=[["lr"]]), "not a valid sweep plan (axes[0]: expected a list of 2 values"),
        (
            lambda d: d["base"].update(lr="fast"),
            "not a valid sweep plan (base.lr: expected a number, got 'fast')",
        ),
        (lambda d: d["points"][0].update(job=7), "the plan does not match its own axes and seeds (edited?)"),
    ],
)
def test_a_damaged_sweep_plan_is_one_line_naming_the_field(tmp_path: Path, change, problem: str) -> None:  # type: ignore[no-untyped-def]
    from actlab.engine.experiments.sweep_plan import SweepError

    plan = json.loads((FIXTURES / "tui_sweep" / "sweep.json").read_text())
    change(plan)
    (tmp_path / "sweep.json").write_text(json.dumps(plan))
    with pytest.raises(SweepError) as info:
        open_results(str(tmp_path))
    assert "\n" not in str(info.value) and problem in str(info.value)


def _disagreeing_seed(root: Path, how: str) -> None:
    """Make seed 1 of the point at `root` a valid summary of another comparison."""
    path = root / "seed-1" / "summary.json"
    stored = json.loads(path.read_text())
    if how == "members":
        stored["members"][0]["activation"] = "elu"
    else:
        for m in stored["members"]:
            m["thresholds"] = m["thresholds"][:1]
    path.write_text(json.dumps(stored))


@pytest.mark.parametrize("how", ["members", "thresholds"])
@pytest.mark.parametrize("where", ["point", "sweep"])
def test_seeds_that_disagree_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str, where: str
) -> None:
    """Summaries that each pass the validator but are not repeats of one comparison (a seed of
    another run copied in) are refused in one line, not an IndexError from the aggregate."""
    import shutil

    from actlab.tui.cli import main

    sweep = tmp_path / "sweep"
    shutil.copytree(FIXTURES / "tui_sweep", sweep)
    point = sweep / "lr=0.05,depth=1"
    _disagreeing_seed(point, how)
    with pytest.raises(SystemExit) as info:
        main(["--batch", "--open", str(point if where == "point" else sweep)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1, err
    assert str(point) in err and ("not this sweep's comparison" in err or "do not compare the same" in err)
