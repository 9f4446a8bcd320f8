"""`actlab-tui compare` and `actlab-tui report` on saved sweeps, sweep points and seeds
directories, built here by the engine (a 2 x 2 sweep of lr and depth over 2 seeds, 30
iterations each): the runs they stand for, their tables in every format, the report's
Markdown and figures, one line and exit 2 for a damaged one, and nothing touched that the
report did not write."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import struct
import warnings
from pathlib import Path

import pytest
from actlab.engine import RunConfig
from actlab.engine.data import Dataset
from actlab.engine.experiments.run_report import HEATMAP_PNG, _heatmap_figure, _pyplot
from actlab.engine.experiments.sweep_results import sweep_results
from actlab.engine.results_model import HeatmapCell
from sweeps import finished_sweep
from test_compare_report import run_cli

POINTS = ["lr=0.02,depth=1", "lr=0.02,depth=2", "lr=0.2,depth=1", "lr=0.2,depth=2"]


@pytest.fixture(scope="module")
def stored_sweep(small: RunConfig, sample: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("s") / "grid"
    finished_sweep(root, small, [("lr", [0.02, 0.2]), ("depth", [1, 2])], [0, 1], sample)
    return root


@pytest.fixture(scope="module")
def stored_seeds(small: RunConfig, sample: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("s") / "paired"
    finished_sweep(root, small, [], [0, 1], sample)
    return root


@pytest.fixture
def sweep(stored_sweep: Path, tmp_path: Path) -> Path:
    """A copy of the stored sweep that a test may damage or write into."""
    return Path(shutil.copytree(stored_sweep, tmp_path / "grid"))


def _labels(table: str) -> list[str]:
    """The run labels of compare's members table (the first column of its first rows)."""
    lines = table.split("\n\n")[0].splitlines()[1:]
    return [line.split()[0] for line in lines if line and not line.startswith(" ")]


def test_compare_on_a_sweep_stands_for_every_points_seeds_and_prints_its_tables(stored_sweep: Path) -> None:
    code, out, err = run_cli("compare", str(stored_sweep))
    assert code == 0, err
    assert _labels(out) == [f"{p}/seed-{s}" for p in POINTS for s in (0, 1)]
    differ = out[out.index("settings that differ:") :].split("\n\n")[1].splitlines()
    assert differ[0].split() == ["run", "depth", "lr", "seed"]  # 8 runs: one row each
    assert differ[1].split() == ["lr=0.02,depth=1/seed-0", "1", "0.02", "0"] and len(differ) == 9
    tables = out[out.index("grid: a sweep of 4 points (lr x depth), seeds 0, 1:") :]
    assert tables.splitlines()[2].split()[:3] == ["lr", "depth", "activation"]
    assert "Which activation wins where" in tables and "Paired by seed" in tables
    assert "relu reaches" in tables
    assert "test accuracy" not in out  # no chart off a terminal


def test_compare_on_a_sweep_in_every_format(stored_sweep: Path) -> None:
    code, md, err = run_cli("compare", "--format", "md", str(stored_sweep))
    assert code == 0, err
    assert md.startswith("| run | member | to 0.8 | to 0.9 | to 0.95 | final acc | s/epoch | status |\n")
    assert (
        "| run | depth | lr | seed |" in md and "**grid: a sweep of 4 points (lr x depth), seeds 0, 1**" in md
    )
    assert "| lr | depth | activation |" in md and "**Paired by seed**" in md
    code, text, _ = run_cli("compare", "--format", "csv", str(stored_sweep))
    rows = list(csv.DictReader(io.StringIO(text)))  # one CSV block: the runs' figures alone
    assert code == 0 and len(rows) == 8 * 2 * 3 and rows[0]["run"] == "lr=0.02,depth=1/seed-0"
    code, text, _ = run_cli("compare", "--format", "json", str(stored_sweep))
    data = json.loads(text)
    assert [r["label"] for r in data["runs"]][:2] == ["lr=0.02,depth=1/seed-0", "lr=0.02,depth=1/seed-1"]
    assert data["sweep"] == json.loads((stored_sweep / "sweep-results.json").read_text())


def test_compare_on_a_point_or_a_seeds_directory_stands_for_its_seeds(
    stored_sweep: Path, stored_seeds: Path
) -> None:
    point = stored_sweep / "lr=0.2,depth=1"
    code, out, err = run_cli("compare", str(point))
    assert code == 0, err
    assert _labels(out) == ["lr=0.2,depth=1/seed-0", "lr=0.2,depth=1/seed-1"]
    over = out[out.index("lr=0.2,depth=1: the sweep point over its seeds:") :]
    assert over.splitlines()[2].split()[:4] == ["Function", "(2", "seeds)", "sigmoid"]
    assert "of 2 seeds" in over  # the paired statements
    code, text, _ = run_cli("compare", "--format", "json", str(point))
    assert json.loads(text)["aggregate"] == json.loads((point / "aggregate.json").read_text())
    code, out, err = run_cli("compare", str(stored_seeds))
    assert code == 0, err
    assert _labels(out) == ["paired/seed-0", "paired/seed-1"]
    assert "paired: the seeds over its seeds:" in out
    # several directories: their runs side by side, no summary of any one of them
    code, out, err = run_cli("compare", str(point), str(stored_seeds))
    assert code == 0, err
    assert _labels(out)[-2:] == ["paired/seed-0", "paired/seed-1"] and "over its seeds" not in out


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_report_on_a_sweep_writes_its_tables_and_figures_and_nothing_else(sweep: Path) -> None:
    (sweep / "notes.md").write_text("my own notes\n")
    before = _files(sweep)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a matplotlib warning would fail here
        code, out, err = run_cli("report", str(sweep))
    assert code == 0, err
    assert out == f"report: {sweep / 'report.md'}\n"
    after = _files(sweep)
    assert set(after) - set(before) == {
        "report.md",
        "report-heatmap.png",
        "report-accuracy.png",
        "report-loss.png",
    }
    assert {k: after[k] for k in before} == before  # the runs, the plan, the user's notes
    text = (sweep / "report.md").read_text()
    assert text.startswith("# actlab sweep grid\n\nsigmoid, relu on sample (4000 train / 1000 test)")
    assert "4 points (lr = 0.02, 0.2; depth = 1, 2) x 2 seeds (0, 1) = 8 runs in 2 jobs" in text
    for line in (
        "![Iterations to the threshold at each point, the winner in each cell](report-heatmap.png)",
        "![Mean test accuracy over the seeds at each point, thresholds dashed](report-accuracy.png)",
        "|  | depth=1 | depth=2 |",
        "| lr | depth | activation | to 0.8 | to 0.9 | to 0.95 | final acc | vs sigmoid at ",
        "| depth | activation | best lr | threshold | iterations |",
        "## Paired by seed",
        "| lr | swept: 0.02,0.2 |",
        "| seeds | 0,1 |",
    ):
        assert line in text, line
    statements = text[text.index("## Paired by seed") : text.index("## Settings")].splitlines()
    assert any(line.startswith("- lr=") and ": relu reaches" in line for line in statements)
    heat_w, heat_h = _png_size(sweep / "report-heatmap.png")
    assert 400 < heat_w < 2000 and 250 < heat_h < 1500
    acc_w, acc_h = _png_size(sweep / "report-accuracy.png")  # 2 x 2 panels
    assert 500 < acc_w < 2000 and 400 < acc_h < 2000
    code, _, err = run_cli("report", str(sweep))  # again: its own files rewritten, the same
    assert code == 0, err
    assert _files(sweep) == after


def test_report_on_a_point_and_on_a_seeds_directory(
    stored_sweep: Path, stored_seeds: Path, tmp_path: Path
) -> None:
    out = tmp_path / "point-report"
    code, _, err = run_cli("report", str(stored_sweep / "lr=0.02,depth=1"), "--out", str(out))
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["report-accuracy.png", "report-loss.png", "report.md"]
    text = (out / "report.md").read_text()
    assert text.startswith("# actlab sweep point lr=0.02,depth=1\n")
    assert "2 of 2 seeds finished" in text and "| Function (2 seeds) | sigmoid | relu |" in text
    assert "\n- " in text and "of 2 seeds" in text and "| seeds | 0,1 |" in text  # the statements
    assert _png_size(out / "report-accuracy.png")[0] > 400
    seeds = Path(shutil.copytree(stored_seeds, tmp_path / "paired"))
    code, _, err = run_cli("report", str(seeds))
    assert code == 0, err
    assert (seeds / "report.md").read_text().startswith("# actlab seeds paired\n")
    assert not (seeds / HEATMAP_PNG).exists()


def test_a_heatmap_where_nothing_was_reached_is_drawn_blank(stored_sweep: Path, tmp_path: Path) -> None:
    from actlab.engine.experiments.sweep_dir import load_plan

    results = sweep_results(stored_sweep, load_plan(stored_sweep))
    assert results.heatmap is not None
    results.heatmap.threshold = None
    for row in results.heatmap.rows:
        row.cells = [HeatmapCell(c.point, "none", None, None) for c in row.cells]
    row.cells[0].state = "unfinished"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _heatmap_figure(results, tmp_path / "h.png", _pyplot())
    assert _png_size(tmp_path / "h.png")[0] > 300


def test_a_damaged_sweep_is_one_line_and_exit_2(sweep: Path) -> None:
    plan = (sweep / "sweep.json").read_text()
    summary = sweep / "lr=0.2,depth=1" / "seed-1" / "summary.json"
    summary.write_text("{not json")
    for args in (
        ["compare", str(sweep)],
        ["compare", str(sweep / "lr=0.2,depth=1")],
        ["report", str(sweep)],
        ["report", str(sweep / "lr=0.2,depth=1")],
    ):
        code, out, err = run_cli(*args)
        assert code == 2 and out == "" and err.count("\n") == 1, (args, err)
        assert err.startswith(f"actlab-tui: error: {summary}: not a readable summary"), err
    (sweep / "sweep.json").write_text('{"version": 1, "axes": ')
    for command in ("compare", "report"):
        code, out, err = run_cli(command, str(sweep))
        assert code == 2 and out == "" and err.count("\n") == 1
        assert err.startswith(f"actlab-tui: error: {sweep / 'sweep.json'}: not readable as a sweep plan")
    assert not (sweep / "report.md").exists() and not (sweep / "lr=0.2,depth=1" / "report.md").exists()
    planned = sweep.parent / "planned"  # a plan whose jobs have not started
    planned.mkdir()
    (planned / "sweep.json").write_text(plan)
    code, out, err = run_cli("compare", str(planned))
    assert code == 2 and err == f"actlab-tui: error: {planned}: a sweep directory with no run yet\n"
