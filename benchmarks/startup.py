"""Time from command to the first training step, with the bundled sample.

There is no hook that reports the first step from inside `actlab-tui`, so two honest
measurements are made, each in a fresh process after one warm-up run (the warm-up fills the
sample cache and the OS file cache):

* the wall time of the whole command `actlab-tui --batch -d sample --max-iterations 1 -q`,
  an upper bound (it also evaluates once, writes the results and exits);
* inside a fresh interpreter: the time from its start to the end of the first step, with
  the phases (import, data, trainer, first step) broken out.
The two are timed in turn, A B A B, together with a bare `python -c "import torch"`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import Figure, Options, Result, interleave, median

NAME = "startup"
TITLE = "Time from command to the first training step (bundled sample)"

IN_PROCESS = r"""
import time, sys
t0 = time.perf_counter()
from actlab.engine import RunConfig
from actlab.engine.data import load, resolve_device
from actlab.engine.train import Trainer
t1 = time.perf_counter()
cfg = RunConfig(dataset="sample", device=sys.argv[1])
dev = resolve_device(cfg.device)
data = load(cfg, dev)
t2 = time.perf_counter()
tr = Trainer(cfg, data, dev)
idx = tr.batches()[0]
t3 = time.perf_counter()
tr.step(idx)
if dev.type == "cuda":
    import torch; torch.cuda.synchronize(dev)
t4 = time.perf_counter()
import json
print(json.dumps({"import": t1 - t0, "data": t2 - t1, "trainer": t3 - t2, "first_step": t4 - t3}))
"""


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("actlab-tui")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "actlab.tui"]


def run(opts: Options) -> Result:
    res = Result(NAME, TITLE)
    out = Path(tempfile.mkdtemp(prefix="actlab-bench-startup-"))
    dev = opts.device.type
    cmd = _cli() + [
        "--batch",
        "-d",
        "sample",
        "--max-iterations",
        "1",
        "-q",
        "--device",
        dev,
        "--out",
        str(out / "run"),
    ]
    phases: list[dict[str, float]] = []

    def command() -> float:
        shutil.rmtree(out / "run", ignore_errors=True)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - t0

    def in_process() -> float:
        t0 = time.perf_counter()
        p = subprocess.run(
            [sys.executable, "-c", IN_PROCESS, dev], check=True, capture_output=True, text=True
        )
        wall = time.perf_counter() - t0
        phases.append(json.loads(p.stdout.strip().splitlines()[-1]))
        return wall

    def bare_torch() -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        return time.perf_counter() - t0

    try:
        command()  # warm-up: fills the sample cache and the OS file cache
        s = interleave(
            {"command": command, "in_process": in_process, "bare_torch": bare_torch},
            opts.repeats(3, 1),
            warmup=0,
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)
    ph = {k: median([p[k] for p in phases]) for k in phases[0]}
    in_proc = sum(ph.values())
    res.lines += [
        "command: " + " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd[:-2])),
        f"whole command (upper bound): {median(s['command']):.2f} s; bare `python -c 'import torch'`: "
        f"{median(s['bare_torch']):.2f} s",
        "in a fresh interpreter, start to end of first step: "
        + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in ph.items())
        + f" (process launch to exit {median(s['in_process']):.2f} s)",
    ]
    res.figures += [
        Figure(
            "command to first step, upper bound (whole cmd)", median(s["command"]), "s", 5.0, False, "issue 2"
        ),
        Figure("import to first step, in process", in_proc, "s", 5.0, False, "issue 2"),
        Figure("whole command / bare `import torch`", median(s["command"]) / median(s["bare_torch"]), "x"),
    ]
    res.details = {"seconds": s, "phases_median_s": ph, "command": cmd[:-2]}
    return res
