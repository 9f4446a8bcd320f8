"""Sweeps: parsing, planning into cohorts, the split into runs, interruption and resume, and
the which-wins-where and best-lr views."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from actlab.engine import RunConfig
from actlab.engine.control import Control
from actlab.engine.data import Dataset
from actlab.engine.events import Evaluation, Event
from actlab.engine.experiments.batch import SweepOptions
from actlab.engine.experiments.results import read_events, replay
from actlab.engine.experiments.sweep_dir import job_done, load_plan, save_plan
from actlab.engine.experiments.sweep_jobs import run_job
from actlab.engine.experiments.sweep_plan import Plan, SweepError, parse_sweep
from actlab.engine.experiments.sweep_results import best_lr, heatmap
from actlab.engine.metrics import aggregate
from actlab.engine.results_model import Aggregate, Crossing, MemberSummary, PointResult, Summary
from actlab.tui.batch import run_batch
from sweeps import finished_sweep
from test_cli import cli


def test_parse_reads_axes_and_checks_every_value(small: RunConfig) -> None:
    assert parse_sweep("lr=0.01,0.1 depth=1,2 init=default,recommended", small) == [
        ("lr", [0.01, 0.1]),
        ("depth", [1, 2]),
        ("init", ["default", "recommended"]),
    ]
    bad = {
        "": "give axes",
        "lr": "write it as name=v1,v2",
        "colour=red": "sweep axis 'colour': choose from",
        "seed=1,2": "--seeds",
        "lr=0.1 lr=0.2": "given twice",
        "lr=0.1,0.1": "value 0.1 is given twice",
        "lr=abc": "lr='abc': must be a number",
        "depth=1.5": "depth='1.5': must be an integer",
        "lr=-1": "lr -1.0: must be a number > 0",
        "depth=0": "depth 0: must be an integer >= 1",
        "init=magic": "init 'magic': choose from",
        "lr=nan": "must be a finite number",
        "lr=0.1,": "an empty value",
    }
    for text, message in bad.items():
        with pytest.raises(SweepError, match=message.replace("(", r"\(").replace("[", r"\[")):
            parse_sweep(text, small)


def test_per_member_axes_share_a_job_and_shape_axes_split_jobs(small: RunConfig) -> None:
    plan = Plan.build(small, [("lr", [0.01, 0.1]), ("depth", [1, 2]), ("momentum", [0.0, 0.9])], [0, 1, 2])
    assert len(plan.points) == 8 and len(plan.jobs) == 2  # depth: 2 jobs of 4 points each
    job = plan.jobs[0]
    assert job.shape == {"depth": 1} and plan.job_config(job).depth == 1
    variants = plan.job_variants(job)
    assert len(variants) == 4 * 3  # points x seeds, seed-major
    assert variants[0] == {"seed": 0, "lr": 0.01, "momentum": 0.0}
    assert variants[4] == {"seed": 1, "lr": 0.01, "momentum": 0.0}
    point, seed = plan.job_runs(job)[5]
    assert (point.name, seed) == ("lr=0.01,depth=1,momentum=0.9", 1)
    assert point.run_dir(seed) == "lr=0.01,depth=1,momentum=0.9/seed-1"
    assert Plan.build(small, [], [3, 4]).points[0].run_dir(3) == "seed-3"


def test_a_stored_plan_reads_back_and_an_edited_one_is_refused(small: RunConfig, tmp_path: Path) -> None:
    plan = Plan.build(small, [("lr", [0.01, 0.1])], [0, 1])
    save_plan(tmp_path, plan)
    assert load_plan(tmp_path).to_dict() == plan.to_dict()
    d = json.loads((tmp_path / "sweep.json").read_text())
    d["points"][0]["name"] = "../../elsewhere"
    (tmp_path / "sweep.json").write_text(json.dumps(d))
    with pytest.raises(SweepError, match="does not match its own axes"):
        load_plan(tmp_path)
    (tmp_path / "sweep.json").write_text("[1, 2]")
    with pytest.raises(SweepError, match="not a sweep plan"):
        load_plan(tmp_path)


def test_each_run_of_a_job_is_an_ordinary_run_with_its_own_settings(
    small: RunConfig, sample: Dataset, tmp_path: Path
) -> None:
    plan = Plan.build(small, [("lr", [0.02, 0.2])], [0, 1])
    run_job(plan, plan.jobs[0], tmp_path, Control(), sample)
    assert job_done(tmp_path, plan, plan.jobs[0])
    for point, seed in plan.job_runs(plan.jobs[0]):
        d = tmp_path / point.run_dir(seed)
        summary = replay(d, lambda e: None)
        assert summary.status == "done" and [m.activation for m in summary.members] == ["sigmoid", "relu"]
        assert summary.config is not None and summary.config.get("lr") == point.values["lr"]
        assert summary.seed == seed
        started = next(iter(read_events(d)))
        assert started.cohort == {"members": 8, "job": 0, "point": point.name, "seeds": [0, 1]}  # type: ignore[attr-defined]
        evaluations = [e for e in read_events(d) if isinstance(e, Evaluation)]
        assert evaluations and all(len(e.accuracy) == 2 for e in evaluations)
    # different seeds and learning rates give different trajectories
    finals = {
        (p.name, s): json.loads((tmp_path / p.run_dir(s) / "summary.json").read_text())["members"][1][
            "final_accuracy"
        ]
        for p, s in plan.job_runs(plan.jobs[0])
    }
    assert len(set(finals.values())) == 4


class _StopAt:
    """Stops the run at its first evaluation at or past `iteration`."""

    def __init__(self, control: Control, iteration: int) -> None:
        self.control, self.iteration = control, iteration

    def __call__(self, event: Event) -> None:
        if isinstance(event, Evaluation) and event.iteration >= self.iteration:
            self.control.stop()


def test_an_interrupted_sweep_resumes_only_its_unfinished_jobs(
    small: RunConfig, sample: Dataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 2 x 2 sweep (lr x depth) with 3 seeds: job 0 (depth 1) finishes, job 1 (depth 2) is
    stopped part way, as Ctrl+C does; --resume trains job 1 again and leaves job 0 alone."""
    root = tmp_path / "sweep"
    plan = Plan.build(small, parse_sweep("lr=0.02,0.2 depth=1,2", small), [0, 1, 2])
    root.mkdir()
    save_plan(root, plan)
    run_job(plan, plan.jobs[0], root, Control(), sample)
    control = Control()
    run_job(plan, plan.jobs[1], root, control, sample, [_StopAt(control, 10)])
    assert job_done(root, plan, plan.jobs[0]) and not job_done(root, plan, plan.jobs[1])
    stopped = json.loads((root / "lr=0.02,depth=2" / "seed-0" / "summary.json").read_text())
    assert stopped["status"] == "stopped" and stopped["iterations"] < 30
    kept = {p: os.stat(p).st_mtime_ns for p in root.glob("*depth=1/seed-*/events.jsonl")}
    assert len(kept) == 6

    code = run_batch(small, None, "table", False, True, sweep=SweepOptions(resume=str(root)))
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "1 of 2 jobs done, 1 to run" in err
    assert {p: os.stat(p).st_mtime_ns for p in kept} == kept  # finished runs untouched
    assert job_done(root, plan, plan.jobs[1])
    resumed = json.loads((root / "lr=0.02,depth=2" / "seed-0" / "summary.json").read_text())
    assert resumed["status"] == "done" and resumed["iterations"] == 30
    # the per-point table, the heatmap and the paired statements
    assert out.splitlines()[0].split()[:3] == ["lr", "depth", "activation"]
    assert sum(line.startswith(("0.02 ", "0.2 ")) for line in out.splitlines()) == 8
    assert "Which activation wins where" in out and "depth=1" in out and "depth=2" in out
    assert "Paired by seed" in out and "relu reaches" in out and "of 3 seeds" in out
    results = json.loads((root / "sweep-results.json").read_text())
    assert results["complete"] and len(results["points"]) == 4
    for name in ("lr=0.02,depth=1", "lr=0.2,depth=2"):
        agg = json.loads((root / name / "aggregate.json").read_text())
        assert agg["seeds"] == [0, 1, 2]


def test_resume_refuses_what_is_not_its_own(small: RunConfig, tmp_path: Path, sample: Dataset) -> None:
    plan = Plan.build(small, [("lr", [0.02])], [0])
    root = tmp_path / "s"
    root.mkdir()
    save_plan(root, plan)
    stray = root / "lr=0.02" / "seed-0"
    stray.mkdir(parents=True)
    (stray / "notes.txt").write_text("mine")
    with pytest.raises(Exception, match="notes.txt, which a run does not write"):
        run_batch(small, None, "table", False, True, sweep=SweepOptions(resume=str(root)))
    assert (stray / "notes.txt").read_text() == "mine"


def _agg(members: dict[str, tuple[list[int | None], float]]) -> Aggregate:
    """An aggregate over seeds from each member's sustained crossings of 0.9 per seed."""
    names = list(members)
    summaries = []
    for s in range(len(next(iter(members.values()))[0])):
        summaries.append(
            Summary(
                status="done",
                config={"activations": names, "thresholds": [0.9], "epochs": 1, "seed": s},
                baseline=names[0],
                members=[
                    MemberSummary(a, "done", None, final, thresholds=[Crossing(0.9, hits[s], hits[s])])
                    for a, (hits, final) in members.items()
                ],
            )
        )
    return aggregate(summaries)


def test_heatmap_names_the_fastest_activation_at_each_point(small: RunConfig) -> None:
    cfg = small.replace(thresholds=(0.9,))
    plan = Plan.build(cfg, [("lr", [0.01, 0.1]), ("depth", [1, 2])], [0, 1])
    aggs = {
        "lr=0.01,depth=1": _agg({"sigmoid": ([300, 320], 0.9), "relu": ([100, 120], 0.95)}),
        "lr=0.01,depth=2": _agg({"sigmoid": ([None, 500], 0.8), "relu": ([200, 220], 0.93)}),
        "lr=0.1,depth=1": _agg({"sigmoid": ([50, 60], 0.94), "relu": ([80, 90], 0.95)}),
        "lr=0.1,depth=2": _agg({"sigmoid": ([None, None], 0.5), "relu": ([None, 70], 0.9)}),
    }
    points = [PointResult(p.name, p.values, p.job, True, aggs[p.name]) for p in plan.points]
    h = heatmap(plan, points)
    assert h is not None and h.threshold == 0.9 and h.column_axis == "depth"
    cells = [[(c.winner, c.iterations) for c in r.cells] for r in h.rows]
    # sigmoid reached in only one seed at lr 0.01 depth 2: not counted; nobody in every seed at the last
    assert cells == [[("relu", 110.0), ("relu", 210.0)], [("sigmoid", 55.0), (None, None)]]
    # as stored: a reached cell names its runner-up, null when it had none; the others do not
    stored = [[c.to_json() for c in r.cells] for r in h.rows]
    assert stored[0][0] == {
        "point": "lr=0.01,depth=1",
        "state": "reached",
        "winner": "relu",
        "iterations": 110.0,
        "runner_up": "sigmoid",
        "runner_up_iterations": 310.0,
    }
    assert (
        list(stored[0][1])[-2:] == ["runner_up", "runner_up_iterations"] and stored[0][1]["runner_up"] is None
    )
    assert stored[1][1] == {"point": "lr=0.1,depth=2", "state": "none", "winner": None, "iterations": None}
    best = best_lr(plan, points)
    assert best is not None
    by = {(b.values["depth"], b.activation): b for b in best}
    assert by[(1, "sigmoid")].best_lr == 0.1 and by[(1, "sigmoid")].iterations == 55.0
    relu = by[(1, "relu")]  # 85 at lr 0.1; the shared lr (the base's 0.05 is not swept): the first
    assert (relu.best_lr, relu.iterations, relu.shared_lr, relu.shared_iterations) == (0.1, 85.0, 0.01, 110.0)
    assert by[(2, "relu")].best_lr == 0.01
    assert by[(2, "sigmoid")].threshold is None  # reached 0.9 in every seed at no lr
    assert by[(2, "sigmoid")].best_lr == 0.01  # ties broken by final accuracy (0.8 > 0.5)


def test_jobs_run_alike_on_worker_processes_and_on_a_local_ray(
    small: RunConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same 2-job sweep (depth 1 and 2) on two local worker processes and as tasks of a
    local Ray instance (started and shut down by the run): every point stored, the same
    figures both ways (one thread per job either way)."""
    pytest.importorskip("ray")
    results = {}
    for backend, workers in (("local", 2), ("ray", None)):
        root = tmp_path / backend
        opts = SweepOptions(seeds=2, sweep="lr=0.02,0.2 depth=1,2", backend=backend, workers=workers)
        code = run_batch(small, str(root), "json", False, True, threads=1, sweep=opts)
        out, err = capsys.readouterr()
        assert code == 0, err
        stored = json.loads((root / "sweep-results.json").read_text())
        assert stored["complete"] and json.loads(out) == stored
        for p in stored["points"]:
            assert (root / p["name"] / "seed-1" / "events.jsonl").is_file()
        results[backend] = stored
    assert results["local"] == results["ray"]


def test_bad_sweep_options_are_one_line_and_write_nothing(cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "never"
    cases = {
        ("--batch", "--sweep", "lr=0.1,0.2", "--workers", "999", "--out", str(out)): "--workers 999",
        (
            "--batch",
            "--sweep",
            "lr=0.1",
            "--backend",
            "local",
            "--ray-address",
            "auto",
        ): "--ray-address goes with",
        ("--sweep", "lr=0.1"): "go with --batch",
        ("--batch", "--resume", str(tmp_path), "--out", str(out)): "drop --out",
        ("--batch", "--resume", str(tmp_path)): "not a sweep or seeds directory",
        ("--batch", "--sweep", "width=0", "--out", str(out)): "width 0: must be an integer >= 1",
        ("--batch", "--resume", str(tmp_path), "--epochs", "9"): "drop --epochs",
    }
    for args, message in cases.items():
        r = cli(*args, cache_dir=cache_dir)
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
        assert not out.exists()


def test_the_tuned_preset_sweeps_the_learning_rate_and_shows_each_at_its_best(
    cache_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "tuned"
    r = cli(
        "--batch", "--preset", "tuned", "-d", "sample", "--epochs", "1", "--max-iterations", "20",
        "--eval-every", "10", "-q", "--out", str(out), cache_dir=cache_dir,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    plan = json.loads((out / "sweep.json").read_text())
    assert plan["axes"] == [["lr", [0.01, 0.03, 0.1, 0.3, 1.0]]] and plan["base"]["depth"] == 1
    assert "best lr" in r.stdout and "at lr=0.1: iterations" in r.stdout
    assert len(list(out.glob("lr=*/seed-0/events.jsonl"))) == 5


def test_a_crafted_plan_cannot_reach_outside_its_directory(small: RunConfig, tmp_path: Path) -> None:
    """Point names come from values; a stored plan whose values are not valid settings (here an
    init that walks up the tree) is refused before anything is removed."""
    victim = tmp_path / "victim" / "seed-0"
    victim.mkdir(parents=True)
    (victim / "summary.json").write_text("{}")
    root = tmp_path / "sweeps" / "evil"
    root.mkdir(parents=True)
    plan = Plan.build(small, [("init", ["default", "xavier_normal"])], [0]).to_dict()
    crafted = json.loads(json.dumps(plan).replace("xavier_normal", "x/../../../victim"))
    (root / "sweep.json").write_text(json.dumps(crafted))
    (root / "init=x").mkdir()
    with pytest.raises(SweepError, match="not a usable directory name"):
        run_batch(small, None, "table", False, True, sweep=SweepOptions(resume=str(root)))
    assert (victim / "summary.json").is_file()


def test_values_that_print_alike_keep_their_own_names(small: RunConfig) -> None:
    axes = parse_sweep("lr=0.1234567,0.12345671 weight_decay=1000000,1000001", small)
    names = [p.name for p in Plan.build(small, axes, [0]).points]
    assert len(set(names)) == 4 and names[0] == "lr=0.1234567,weight_decay=1e+06"
    assert names[1] == "lr=0.1234567,weight_decay=1000001.0"  # as 1e+06 it would collide: in full
    assert names[2] == "lr=0.12345671,weight_decay=1e+06"
    assert Plan.build(small, parse_sweep("lr=0.1,1e-05", small), [0]).points[1].name == "lr=1e-05"


def test_an_axis_that_cannot_change_anything_is_refused(small: RunConfig) -> None:
    with pytest.raises(SweepError, match="clip_threshold: no effect without clipping"):
        Plan.build(small, parse_sweep("clip_threshold=0.1,1", small), [0])
    Plan.build(small, parse_sweep("clip_threshold=0.1,1 clip=none,l2", small), [0])  # l2 uses it
    with pytest.raises(SweepError, match="momentum: adam ignores it"):
        Plan.build(small.replace(optimizer="adam"), parse_sweep("momentum=0,0.9", small), [0])


def test_a_stored_point_prints_its_seeds_table(small: RunConfig, sample: Dataset, tmp_path: Path) -> None:
    from actlab.engine.experiments.saved import saved_sweep_text

    root = tmp_path / "s"
    finished_sweep(root, small, [("lr", [0.02, 0.2])], [0, 1], sample)
    text = saved_sweep_text(str(root / "lr=0.2"), "table")
    assert text is not None and "Function (2 seeds)" in text and "of 2 seeds" in text
    assert saved_sweep_text(str(root / "lr=0.2" / "seed-0"), "table") is None  # a run: not a sweep
