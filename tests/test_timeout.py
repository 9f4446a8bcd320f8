"""A hang fails its test in bounded time with every thread's stack, instead of running into CI's
limit: the suite's pytest-timeout setting, checked on a test that blocks for ever."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HANGS = """
import threading

def test_hangs():
    lock = threading.Lock()
    lock.acquire()
    holder = threading.Thread(target=lock.acquire, name="stuck-helper", daemon=True)
    holder.start()
    lock.acquire()  # never released: a deadlock, as a dead worker's lock makes one

def test_after_it_runs():
    assert True
"""


def test_the_suite_bounds_every_test_at_120_s() -> None:
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert options["timeout"] == 120 and options["timeout_method"] == "signal"


def test_a_hang_fails_with_every_threads_stack_and_the_rest_runs(tmp_path: Path) -> None:
    (tmp_path / "test_hang.py").write_text(HANGS)
    # the project's own settings (-c), with the bound shortened for the test
    argv = [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path)]
    argv += ["-p", "no:cacheprovider", "-o", "timeout=3", "-o", "faulthandler_timeout=0", str(tmp_path)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=100)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "Timeout (0:00:03)" in out or "Timeout" in out
    assert "stuck-helper" in out  # the other thread's stack, by its name
    assert "1 failed, 1 passed" in out
