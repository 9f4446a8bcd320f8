"""`actlab-tui --batch`: the table, --json, results on disk, bad input and Ctrl+C."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from actlab.engine.data import load_sample, write_idx


def cli(*args: str, cache_dir: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "XDG_CACHE_HOME": str(cache_dir)}
    return subprocess.run(
        [sys.executable, "-m", "actlab.tui", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        **kw,
    )


FAST = ["--batch", "-d", "sample", "--width", "32", "--batch-size", "128", "--epochs", "2"]


def test_batch_prints_the_table_and_writes_results(cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = cli(*FAST, "--out", str(out), cache_dir=cache_dir)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["Function", "sigmoid", "tanh", "relu"]
    assert any(line.startswith("Iterations to reach 0.8") for line in lines)
    assert any(line.startswith("Final accuracy") for line in lines)
    assert "evaluated every" in r.stdout
    assert "epoch 2/2" in r.stderr and f"results: {out}" in r.stderr
    for name in ("config.json", "events.jsonl", "summary.json", "summary.csv"):
        assert (out / name).is_file()
    again = cli("--batch", "--open", str(out), cache_dir=cache_dir)
    assert again.returncode == 0 and again.stdout.splitlines()[:8] == lines[:8]


def test_summary_csv_is_what_format_csv_prints(cache_dir: Path, tmp_path: Path) -> None:
    # Bytes, not text: text mode would turn a CRLF into LF and hide a second line ending.
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "XDG_CACHE_HOME": str(cache_dir)}
    args = [sys.executable, "-m", "actlab.tui", *FAST, "-q", "-a", "relu,tanh", "--format", "csv"]
    r = subprocess.run([*args, "--out", str(out)], capture_output=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    written = (out / "summary.csv").read_bytes()
    assert b"\r" not in written and b"\r" not in r.stdout  # one line ending: LF
    assert written.endswith(b"\n") and len(written.splitlines()) == 1 + 2 * 3  # header, members x thresholds
    assert r.stdout == written  # the same cells, the same bytes
    again = subprocess.run(
        [*args[:3], "--batch", "--open", str(out), "--format", "csv"], capture_output=True, env=env
    )
    assert again.returncode == 0 and again.stdout == written


def test_json_output_holds_the_documented_fields(cache_dir: Path, tmp_path: Path) -> None:
    r = cli(*FAST, "-q", "--json", "--out", str(tmp_path / "j"), "-a", "relu,tanh", cache_dir=cache_dir)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["dataset"]["name"] == "sample" and s["dataset"]["source"]
    assert s["dataset"]["train_size"] == 4000 and s["dataset"]["test_size"] == 1000
    assert s["device"] == "cpu" and isinstance(s["eval_every"], int)
    assert s["config"]["activations"] == ["relu", "tanh"]
    for m in s["members"]:
        assert set(m) >= {
            "activation",
            "status",
            "diverged_at",
            "final_accuracy",
            "epoch_time_s",
            "thresholds",
        }
        assert m["status"] == "done"
        assert [t["threshold"] for t in m["thresholds"]] == [0.8, 0.9, 0.95]
        for t in m["thresholds"]:
            assert set(t) == {"threshold", "first", "sustained", "speedup"}
    assert s == json.loads((tmp_path / "j" / "summary.json").read_text())


def _bad_idx_dir(tmp_path: Path, cache_dir: Path) -> str:
    xtr, ytr, xte, yte = load_sample(cache_dir)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", xtr.reshape(-1, 28, 28))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", ytr.astype("uint8"))
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", xte.reshape(-1, 28, 28))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x03\xe8" + b"\x01" * 10)
    return str(tmp_path)


BAD = [
    (["-a", "sigmoid,swish"], "unknown activation 'swish'"),
    (["--depth", "0"], "depth 0: must be an integer >= 1"),
    (["--width", "-3"], "width -3"),
    (["--lr", "0"], "lr 0.0: must be a number > 0"),
    (["--lr", "fast"], "'fast' is not a valid float"),
    (["--batch-size", "0"], "batch_size 0"),
    (["--thresholds", "0.8,1.5"], "threshold 1.5: must be in (0, 1]"),
    (["--thresholds", "0.8,high"], "not a comma-separated list of numbers"),
    (["--clip", "l2", "--clip-threshold", "-1"], "clip_threshold -1.0"),
    (["--clip", "l3"], "'l3' is not one of"),
    (["--data-dir", "/nonexistent/dir"], "not a readable directory"),
    (["--device", "cuda:7"], "device"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_and_exit_2(
    cache_dir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "never"
    r = cli("--batch", "-q", "--out", str(out), *args, cache_dir=cache_dir)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("actlab-tui: error: ")
    assert message in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert not out.exists()  # nothing written for a refused run


def test_malformed_idx_file_is_refused(cache_dir: Path, tmp_path: Path) -> None:
    r = cli("--batch", "-q", "--data-dir", _bad_idx_dir(tmp_path, cache_dir), cache_dir=cache_dir)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "malformed IDX file" in r.stderr


@pytest.mark.parametrize(
    ("sig", "code"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
    ids=["ctrl-c", "TERM", "HUP"],
)
def test_a_signal_stops_cleanly_keeps_results_and_exits_with_its_code(
    sig: int, code: int, cache_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "XDG_CACHE_HOME": str(cache_dir)}
    args = [
        "--batch",
        "-d",
        "sample",
        "--width",
        "32",
        "--batch-size",
        "256",
        "--epochs",
        "500",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "actlab.tui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # progress lines arrive one per epoch when stderr is not a terminal
        if line.startswith("epoch 2/"):
            break
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code
    assert "Traceback" not in stderr
    assert "Function" in stdout  # the table of what was reached so far
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "stopped"
    assert summary["iterations"] >= 2 * summary["iterations_per_epoch"]
    assert all(m["status"] == "stopped" for m in summary["members"])


def test_help_explains_the_options(cache_dir: Path) -> None:
    r = cli("--help", cache_dir=cache_dir)
    assert r.returncode == 0
    for flag in (
        "--batch",
        "--activations",
        "--clip",
        "--init",
        "--preset",
        "--json",
        "--out",
        "--eval-every",
    ):
        assert flag in r.stdout


def test_seeds_give_mean_and_spread(cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "seeds"
    r = cli(*FAST, "-q", "--seeds", "2", "--max-iterations", "20", "--out", str(out), cache_dir=cache_dir)
    assert r.returncode == 0, r.stderr
    assert "Function (2 seeds)" in r.stdout and "over seeds [0, 1]" in r.stdout
    agg = json.loads((out / "aggregate.json").read_text())
    assert agg["seeds"] == [0, 1] and [m["activation"] for m in agg["members"]] == ["sigmoid", "tanh", "relu"]
    for seed in (0, 1):
        assert json.loads((out / f"seed-{seed}" / "summary.json").read_text())["config"]["seed"] == seed


def test_seeds_state_the_paired_speedup_with_its_interval(cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "paired"
    args = ["-q", "--seeds", "3", "--max-iterations", "60", "--eval-every", "10", "-a", "sigmoid,relu"]
    r = cli(*FAST, *args, "--out", str(out), cache_dir=cache_dir)
    assert r.returncode == 0, r.stderr
    agg = json.loads((out / "aggregate.json").read_text())
    assert agg["baseline"] == "sigmoid" and agg["interval"]["level"] == 0.95
    p = agg["members"][1]["thresholds"][0]["vs_baseline"]
    assert [s["seed"] for s in p["per_seed"]] == [0, 1, 2]
    assert p["faster"] + p["slower"] + p["tie"] + p["neither"] == 3
    assert p["statement"] in r.stdout  # the batch table says the same sentences
    assert "t interval (Holm-adjusted over the" in r.stdout  # the footer says how it was computed
    md = cli(*FAST, *args, "--format", "md", "--out", str(tmp_path / "md"), cache_dir=cache_dir)
    assert md.returncode == 0, md.stderr
    assert "| Function (3 seeds) | sigmoid | relu |" in md.stdout and f"- {p['statement']}" in md.stdout
    csv_out = cli(*FAST, *args, "--format", "csv", "--out", str(tmp_path / "csv"), cache_dir=cache_dir)
    members, pairs = csv_out.stdout.strip().split("\n\n")  # the members' figures, then every pair
    rows = list(csv.DictReader(io.StringIO(members)))
    assert [(r["a"], r["b"]) for r in csv.DictReader(io.StringIO(pairs))] == [("sigmoid", "relu")] * 4
    assert len(rows) == 2 * 3 and rows[3]["activation"] == "relu" and rows[3]["baseline"] == "sigmoid"
    for name in ("faster", "slower", "paired", "ratio_mean", "ratio_low"):  # the same runs, the same figures
        assert rows[3][name] == ("" if p[name] is None else str(p[name]))


FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("fmt", ["table", "md", "csv", "json"])
def test_every_table_prints_in_every_format(fmt: str, cache_dir: Path) -> None:
    run = str(FIXTURES / "diag_clip")
    r = cli("--batch", "--open", run, "--diagnostics", "--format", fmt, cache_dir=cache_dir)
    assert r.returncode == 0, r.stderr
    if fmt == "table":
        assert r.stdout.startswith("Function ") and "member    layer   grad norm" in r.stdout
    elif fmt == "md":
        lines = r.stdout.splitlines()
        assert lines[:2] == ["| Function | sigmoid | tanh | relu |", "| :--- | ---: | ---: | ---: |"]
        assert "| member | layer | grad norm | saturated | dead | act mean | act std |" in lines
        assert "- tanh: clipped 71.2% of steps; recent pre-clip norm 1.66 (max 2.2) vs threshold 0.5" in lines
    elif fmt == "csv":
        first, second = r.stdout.strip().split("\n\n")
        assert list(csv.reader(io.StringIO(first)))[1][:4] == ["sigmoid", "done", "", "0.8"]
        layers = list(csv.DictReader(io.StringIO(second)))
        assert layers[0]["activation"] == "sigmoid"
        assert float(layers[0]["grad_norm"]) == pytest.approx(3.04551e-05)
    else:
        assert json.loads(r.stdout)["members"][1]["activation"] == "tanh"
        alias = cli("--batch", "--open", run, "--json", cache_dir=cache_dir)
        assert alias.stdout == r.stdout
    clash = cli("--batch", "--open", run, "--json", "--format", "md", cache_dir=cache_dir)
    assert clash.returncode == 2 and clash.stderr.count("\n") == 1
    assert "--json is --format json" in clash.stderr
