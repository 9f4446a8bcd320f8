"""`actlab-tui compare` and `actlab-tui report` on recorded runs (tests/fixtures): the table,
the settings that differ, the chart, the Markdown report and its figures, and one line with
exit 2 for a directory that is not a run."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
import sys
import warnings
from pathlib import Path

import pytest
from actlab.tui.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
FINISHED, DIVERGED, CLIP = (str(FIXTURES / n) for n in ("tui_finished", "tui_diverged", "diag_clip"))


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(argv))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_compare_puts_the_runs_side_by_side_with_the_settings_that_differ() -> None:
    code, out, err = run_cli("compare", FINISHED, DIVERGED)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["run", "member", "to", "0.8", "to", "0.9", "to", "0.95"] + [
        "final",
        "acc",
        "s/epoch",
        "status",
    ]
    assert lines[1].split()[:3] == ["tui_finished", "sigmoid", "not"]
    assert lines[4].split()[:3] == ["tui_diverged", "sigmoid", "62"]
    assert lines[7].split()[0] == "identity" and lines[7].endswith("diverged at 11")
    differ = out[out.index("settings that differ:") :].splitlines()
    assert differ[2].split() == ["setting", "tui_finished", "tui_diverged"]
    assert differ[3].split() == ["activations", "sigmoid,tanh,relu", "sigmoid,tanh,relu,identity"]
    assert differ[4].split() == ["lr", "0.05", "0.5"] and len(differ) == 5  # nothing else differs
    assert "test accuracy" not in out  # no chart when stdout is not a terminal


def test_compare_formats_and_the_chart() -> None:
    code, md, _ = run_cli("compare", "--format", "md", FINISHED, CLIP)
    assert code == 0
    assert md.startswith("| run | member | to 0.8 | to 0.9 | to 0.95 | final acc | s/epoch | status |\n")
    assert "| :--- | :--- | ---: |" in md and "**Settings that differ**" in md and "| depth | 2 | 6 |" in md
    code, text, _ = run_cli("compare", "--format", "csv", FINISHED, DIVERGED)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert (
        len(rows) == (3 + 4) * 3 and rows[0]["run"] == "tui_finished" and rows[-1]["activation"] == "identity"
    )
    assert rows[-1]["diverged_at"] == "11"
    code, text, _ = run_cli("--json", "compare", FINISHED, DIVERGED)  # the root's --json applies too
    data = json.loads(text)
    assert [r["label"] for r in data["runs"]] == ["tui_finished", "tui_diverged"]
    assert data["differences"]["lr"] == [0.05, 0.5]
    code, text, _ = run_cli("compare", "--chart", FINISHED, DIVERGED)
    chart = text[text.index("test accuracy") :]
    assert "tui_diverged: identity" in chart and "iteration" in chart and "\x1b[" not in chart


def test_compare_labels_runs_with_the_same_name_by_their_path(tmp_path: Path) -> None:
    for parent in ("a", "b"):
        shutil.copytree(FINISHED, tmp_path / parent / "run")
    first, second = str(tmp_path / "a" / "run"), str(tmp_path / "b" / "run")
    code, out, _ = run_cli("compare", first, second)
    assert code == 0 and first in out and second in out and "settings: the same in every run" in out


@pytest.mark.parametrize("command", ["compare", "report"])
def test_a_directory_that_is_not_a_run_is_one_line_and_exit_2(command: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(FINISHED, bad)
    with open(bad / "events.jsonl", "a") as f:
        f.write('{"type": "evaluation", "iteration": "x"}\n{"type": "run_finished"}\n')
    for target, words in (
        (tmp_path, "no events.jsonl here"),
        (tmp_path / "missing", "no such directory"),
        (bad, "events.jsonl line 34: evaluation:"),
    ):
        args = [command, FINISHED, str(target)] if command == "compare" else [command, str(target)]
        code, out, err = run_cli(*args)
        assert code == 2 and out == "" and err.count("\n") == 1 and words in err, err
        assert err.startswith("actlab-tui: error: ")
    assert not (bad / "report.md").exists()


def test_report_writes_markdown_with_its_figures(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(CLIP, run)
    code, out, err = run_cli("report", str(run))
    assert code == 0, err
    assert out == f"report: {run / 'report.md'}\n"
    text = (run / "report.md").read_text()
    assert text.startswith("# actlab run run\n")
    assert "![Test accuracy of each member, thresholds dashed](report-accuracy.png)" in text
    assert "![Gradient norm per hidden layer](report-gradients.png)" in text
    assert "| Function | sigmoid | tanh | relu |" in text and "| member | layer | grad norm |" in text
    assert "| clip | l2 |" in text
    for name in ("report-accuracy.png", "report-gradients.png"):
        assert (run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = tmp_path / "elsewhere" / "report"
    code, _, err = run_cli("report", str(run), "--out", str(again))  # made if missing
    assert code == 0, err
    assert (again / "report.md").read_text() == text
    assert (again / "report-gradients.png").read_bytes() == (run / "report-gradients.png").read_bytes()


def test_report_without_diagnostics_says_so(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    lines = (Path(FINISHED) / "events.jsonl").read_text().splitlines(keepends=True)
    (run / "events.jsonl").write_text("".join(x for x in lines if '"type":"diagnostics"' not in x))
    code, _, err = run_cli("report", str(run))
    assert code == 0, err
    assert "No diagnostics were recorded in this run." in (run / "report.md").read_text()
    assert not (run / "report-gradients.png").exists() and (run / "report-accuracy.png").exists()


def test_report_without_matplotlib_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    code, out, err = run_cli("report", FINISHED, "--out", str(tmp_path / "r"))
    assert code == 2 and out == ""
    assert (
        err == "actlab-tui: error: report needs matplotlib: pip install 'actlab[report]' "
        "(make install includes it)\n"
    )
    assert not (tmp_path / "r").exists()


def test_compare_opens_a_seeds_directory_as_its_sub_runs(tmp_path: Path) -> None:
    seeds = tmp_path / "paired"
    for s in (0, 1, 10):
        shutil.copytree(FINISHED, seeds / f"seed-{s}")
    (seeds / "aggregate.json").write_text("{}")
    code, out, err = run_cli("compare", str(seeds), DIVERGED)
    assert code == 0, err
    labels = [line.split()[0] for line in out.splitlines()[1:] if line and not line.startswith(" ")]
    assert labels[:4] == ["paired/seed-0", "paired/seed-1", "paired/seed-10", "tui_diverged"]


def test_report_draws_the_gradients_of_a_single_diagnostics_point(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    lines = (Path(FINISHED) / "events.jsonl").read_text().splitlines(keepends=True)
    diag = [i for i, x in enumerate(lines) if '"type":"diagnostics"' in x]
    (run / "events.jsonl").write_text("".join(x for i, x in enumerate(lines) if i not in diag[1:]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns of a legend without lines: exit 1 here
        code, _, err = run_cli("report", str(run))
    assert code == 0, err
    assert "At the last diagnostics point (solid)" in (run / "report.md").read_text()


def _point(tmp_path: Path, status: str) -> Path:
    """A sweep's point of two seeds (copies of a finished run), its stored summaries marked `status`."""
    point = tmp_path / "lr=0.1"
    for s in (0, 1):
        shutil.copytree(FINISHED, point / f"seed-{s}")
        summary = json.loads((point / f"seed-{s}" / "summary.json").read_text())
        (point / f"seed-{s}" / "summary.json").write_text(json.dumps({**summary, "status": status}))
    (point / "aggregate.json").write_text("{}")  # written for people: compare does not read it
    return point


@pytest.mark.parametrize("status", ["done", "interrupted"])
def test_compare_json_of_a_seeds_directory_holds_its_aggregate_even_when_null(
    status: str, tmp_path: Path
) -> None:
    from actlab.engine.results_model import Comparison

    code, text, err = run_cli("compare", "--format", "json", str(_point(tmp_path, status)))
    assert code == 0, err
    data = json.loads(text)
    assert list(data) == ["runs", "differences", "aggregate"]
    assert [r["label"] for r in data["runs"]] == ["lr=0.1/seed-0", "lr=0.1/seed-1"]
    if status == "done":
        assert data["aggregate"]["runs"] == 2 and data["aggregate"]["members"][0]["activation"] == "sigmoid"
    else:
        assert data["aggregate"] is None  # no seed finished: present, and null
    assert Comparison.from_json(data).to_json() == data  # read back, written the same
    code, text, err = run_cli("compare", "--format", "json", FINISHED, DIVERGED)
    data = json.loads(text)
    assert code == 0 and list(data) == ["runs", "differences"]  # runs alone: no aggregate, no sweep
    assert Comparison.from_json(data).to_json() == data


def test_every_command_tells_the_kinds_of_directory_apart_the_same_way(tmp_path: Path) -> None:
    from actlab.engine.experiments.opened import OpenedRun, OpenedSeeds, open_results
    from actlab.engine.experiments.store import ResultsError

    point = _point(tmp_path, "done")
    run = open_results(FINISHED)
    assert isinstance(run, OpenedRun) and run.stored_runs == [(FINISHED, "tui_finished")]
    assert run.replay().members[0].activation == "sigmoid"
    seeds = open_results(str(point))
    assert isinstance(seeds, OpenedSeeds) and seeds.kind == "point" and seeds.seeds == [0, 1]
    assert [label for _, label in seeds.stored_runs] == ["lr=0.1/seed-0", "lr=0.1/seed-1"]
    assert len(seeds.summaries) == 2 and seeds.aggregate.seeds == [0, 0] and not seeds.missing
    (point / "seed-2").mkdir()  # left empty by a job that never started: not a run yet
    seeds = open_results(str(point))
    assert isinstance(seeds, OpenedSeeds) and seeds.seeds == [0, 1, 2] and seeds.missing == [2]
    code, out, err = run_cli("compare", str(point))
    assert code == 0 and "lr=0.1/seed-1" in out and "seed-2" not in out, err
    # a seed's run alone is labelled with its point's name
    assert open_results(str(point / "seed-1")).stored_runs[0].label == "lr=0.1/seed-1"
    (tmp_path / "notes").mkdir()
    with pytest.raises(
        ResultsError, match="not an actlab run, sweep or seeds directory .no events.jsonl here"
    ):
        open_results(str(tmp_path / "notes"))
    for args in (["compare"], ["--batch", "--open"], ["report"]):
        code, out, err = run_cli(*args, str(tmp_path / "notes"))
        assert code == 2 and out == "" and "not an actlab run, sweep or seeds directory" in err
