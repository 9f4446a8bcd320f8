"""Soak of issue 16 item 1: the same command and seed give the same numbers, quiet or busy.

Each repetition runs one small batch comparison with the default threads (OMP_NUM_THREADS
unset: PyTorch's count, fixed), alternately on a quiet machine and with 1 or 2 busy processes
(Python loops) competing for the cores, and compares its events, timings left out, with the
first run's. A run that exceeds its time bound counts as a hang (and is killed); a process of the
run's process group still alive after it ended counts as a leftover.

`python -m benchmarks.soak_threads [REPETITIONS]`: a line per repetition, a summary, exit 1
on any mismatch, hang or leftover.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .soak_workers import living_in_group

CLI = str(Path(sys.executable).with_name("actlab-tui"))
ARGS = ["--batch", "-q", "-d", "sample", "--epochs", "1", "--max-iterations", "120", "--eval-every", "20"]
ARGS += ["--width", "128", "-a", "sigmoid,tanh,relu", "--diagnostics-every", "60"]
TIMING_KEYS = {"seconds", "eval_seconds", "elapsed_s"}
BOUND_S = 300.0  # a run that takes longer hangs (a quiet one takes about 3 s)


def numbers(run: Path) -> list[dict[str, Any]]:
    """A run's events less what is measured in seconds (the cost probe entirely)."""
    kept = []
    for line in (run / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["type"] != "member_costs":
            kept.append({k: v for k, v in event.items() if k not in TIMING_KEYS})
    return kept


def soak(repetitions: int = 10) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    reference: list[dict[str, Any]] | None = None
    counts = {"repetitions": repetitions, "identical": 0, "mismatches": 0, "hangs": 0, "leftovers": 0}
    with tempfile.TemporaryDirectory(prefix="actlab-soak-threads-") as tmp:
        for i in range(repetitions):
            load = i % 3  # 0, 1 or 2 busy processes
            busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(load)]
            out = Path(tmp) / f"run-{i}"
            t0 = time.perf_counter()
            proc = subprocess.Popen(  # its own process group: what it leaves is found by the group
                [CLI, *ARGS, "--out", str(out)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                code: int | None = proc.wait(timeout=BOUND_S)
            except subprocess.TimeoutExpired:
                code = None
                counts["hangs"] += 1
                os.killpg(proc.pid, signal.SIGKILL)  # the run and whatever it started
                proc.wait()
            finally:
                for b in busy:
                    b.kill()
                    b.wait()
            seconds = time.perf_counter() - t0
            counts["leftovers"] += len(living_in_group(proc.pid))
            verdict = "hang"
            if code == 0:
                got = numbers(out)
                reference = reference if reference is not None else got
                same = got == reference
                counts["identical" if same else "mismatches"] += 1
                verdict = "identical" if same else "DIFFERENT"
            elif code is not None:
                counts["mismatches"] += 1
                verdict = f"exit {code}"
            line = f"threads {i + 1}/{repetitions}: {load} busy process(es), {seconds:.1f} s, {verdict}"
            print(line, flush=True)
    counts["ok"] = counts["identical"] == repetitions and not counts["hangs"] and not counts["leftovers"]
    return counts


if __name__ == "__main__":
    result = soak(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
    print(json.dumps(result))
    raise SystemExit(0 if result["ok"] else 1)
