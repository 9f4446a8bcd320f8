"""The default is reproducible: the same command and seed on the same machine give the same
events (timings aside), whether the machine is quiet or busy; `--threads auto` opts in to the
thread tuner and says that it is not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `pytest`, not `python -m pytest`: benchmarks/ is at the root
    sys.path.insert(0, str(ROOT))

from benchmarks.soak_threads import numbers  # noqa: E402  (the events less their timings)

CLI = str(Path(sys.executable).with_name("actlab-tui"))
ARGS = ["--batch", "-d", "sample", "--epochs", "1", "--max-iterations", "60", "--eval-every", "20"]
ARGS += ["--width", "64", "-a", "sigmoid,relu", "--diagnostics-every", "30"]


def _env(cache: Path, threads_env: str | None) -> dict[str, str]:
    env = dict(os.environ, ACTLAB_CACHE=str(cache))
    env.pop("OMP_NUM_THREADS", None)  # the suite fixes it; these runs take the real default
    if threads_env is not None:
        env["OMP_NUM_THREADS"] = threads_env
    return env


def _batch(out: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [CLI, *ARGS, "--cache-dir", str(cache), "--out", str(out), *extra]
    return subprocess.run(argv, env=_env(cache, None), capture_output=True, text=True, timeout=110)


def test_the_default_is_bit_reproducible_quiet_or_busy(tmp_path: Path, cache_dir: Path) -> None:
    """Two runs of the same command, the second while another process keeps a core busy (the
    load that made the old default tuner pick another count), give identical events; and no
    epoch says the tuner chose its threads."""
    quiet = _batch(tmp_path / "quiet", cache_dir)
    assert quiet.returncode == 0, quiet.stderr
    busy_loop = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        busy = _batch(tmp_path / "busy", cache_dir)
    finally:
        busy_loop.kill()
        busy_loop.wait()
    assert busy.returncode == 0, busy.stderr
    a, b = numbers(tmp_path / "quiet"), numbers(tmp_path / "busy")
    assert a == b
    epochs = [e for e in a if e["type"] == "epoch_finished"]
    assert epochs and all(e["threads"] is None for e in epochs)
    assert "not bit-for-bit reproducible" not in quiet.stderr


def test_threads_auto_is_opt_in_and_says_it_is_not_reproducible(tmp_path: Path, cache_dir: Path) -> None:
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: the tuner has nothing to choose")
    done = _batch(tmp_path / "auto", cache_dir, "--threads", "auto")
    assert done.returncode == 0, done.stderr
    assert "--threads auto" in done.stderr and "not bit-for-bit reproducible" in done.stderr
    epochs = [e for e in numbers(tmp_path / "auto") if e["type"] == "epoch_finished"]
    assert epochs and all(isinstance(e["threads"], int) for e in epochs)
