"""Time from command to the first training step, with the bundled sample.

There is no hook that reports the first step from inside `actlab-tui`, so two honest
measurements are made, each in a fresh process after one warm-up run (the warm-up fills the
sample cache and the OS file cache):

* the wall time of the whole command `actlab-tui --batch -d sample --max-iterations 1 -q`,
  an upper bound (it also evaluates once, writes the results and exits);
* inside a fresh interpreter: the time from its start to the end of the first step, with
  the phases (import, data, trainer, first step) broken out.
The two are timed in turn, A B A B, together with a bare `python -c "import torch"`.

The app's own start (issue 12: its UI process does not load PyTorch) is timed too, in turn
with `actlab-tui --help`:

* `actlab-tui` on a pseudo-terminal of 120 x 40, as a user starts it: the time from the
  command to the first frame of the lab (the frame that shows the settings form, found in
  what the real driver writes), and the resident memory (VmRSS) of the app's own process at
  that moment. The engine process the app starts in the background is a separate process:
  its memory is not counted, its start competes for the CPU as it does for a user. Then
  ctrl+q quits the app;
* `actlab-tui --help`, whole command.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from dataclasses import dataclass
from pathlib import Path

from .common import Figure, Options, Result, interleave, median

NAME = "startup"
TITLE = "Time from command to the first training step (bundled sample), and to the app's first frame"

IN_PROCESS = r"""
import time, sys
t0 = time.perf_counter()
from actlab.engine import RunConfig
from actlab.engine.data import load, resolve_device
from actlab.engine.lockstep import Trainer
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


APP_SIZE = (120, 40)  # columns, rows
# Text of the settings form, in the lab's first frame; one run of one style, so the driver
# writes it in one piece.
FIRST_FRAME_MARKER = b"Activations (space toggles)"
APP_DEADLINE_S = 60.0  # for the first frame: a hang fails the benchmark, not the session


@dataclass
class AppStart:
    """One start of the app: seconds to its first frame, its memory then, PyTorch loaded?"""

    seconds: float
    rss_mb: float
    torch_loaded: bool


def _proc_status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/{pid}/status")


def app_start(cwd: Path) -> AppStart:
    """Start `actlab-tui` on a pseudo-terminal; measure at its first frame, then quit it."""
    master, slave = pty.openpty()
    cols, rows = APP_SIZE
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = dict(os.environ, TERM="xterm-256color")
    t0 = time.perf_counter()
    # a session of its own: whatever the app started (its engine process) can be ended with it
    proc = subprocess.Popen(
        _cli(), stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, start_new_session=True
    )
    os.close(slave)
    seen: AppStart | None = None
    children: list[int] = []
    tail = b""
    try:
        while seen is None:
            if time.perf_counter() - t0 > APP_DEADLINE_S:
                raise RuntimeError(f"no first frame within {APP_DEADLINE_S:.0f} s")
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    raise RuntimeError(f"the app exited with {proc.returncode} before its first frame")
                continue
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:  # the app closed the terminal
                raise RuntimeError("the app exited before its first frame") from None
            tail = (tail + chunk)[-(len(chunk) + len(FIRST_FRAME_MARKER)) :]
            if FIRST_FRAME_MARKER in tail:
                wall = time.perf_counter() - t0
                rss_kb = _proc_status_kb(proc.pid, "VmRSS")
                maps = Path(f"/proc/{proc.pid}/maps").read_text()
                seen = AppStart(wall, rss_kb / 1024, "libtorch" in maps)
                children = _children(proc.pid)  # the engine process: its own session
        os.write(master, b"\x11")  # ctrl+q
        quit_by = time.perf_counter() + 10.0
        while proc.poll() is None and time.perf_counter() < quit_by:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    os.read(master, 1 << 16)  # keep the terminal drained so the app can exit
                except OSError:
                    break
        return seen
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the app, if it hangs
        except ProcessLookupError:
            pass
        proc.wait()
        os.close(master)
        _end(children)


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _end(pids: list[int], grace_s: float = 5.0) -> None:
    """The engine process leaves when the app's socket closes; end it if it has not."""
    by = time.perf_counter() + grace_s
    for pid in pids:
        while Path(f"/proc/{pid}").exists() and time.perf_counter() < by:
            time.sleep(0.05)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


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
    app_figures(res, opts)
    return res


def app_figures(res: Result, opts: Options) -> None:
    """The app's first frame and memory, and `--help`, timed in turn."""
    starts: list[AppStart] = []
    cwd = Path(tempfile.mkdtemp(prefix="actlab-bench-app-"))  # runs the app saves land here

    def app() -> float:
        starts.append(app_start(cwd))
        return starts[-1].seconds

    def help_command() -> float:
        t0 = time.perf_counter()
        subprocess.run(_cli() + ["--help"], check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t0

    try:
        s = interleave({"app": app, "help": help_command}, opts.repeats(5, 2), warmup=1)
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    measured = starts[-len(s["app"]) :]  # the warm-up start is not counted
    rss = median([a.rss_mb for a in measured])
    torch_in_ui = sum(a.torch_loaded for a in measured)
    res.lines += [
        f"app on a {APP_SIZE[0]}x{APP_SIZE[1]} pseudo-terminal, command to first frame: "
        + ", ".join(f"{a.seconds:.2f} s" for a in measured)
        + f"; UI process VmRSS then: {', '.join(f'{a.rss_mb:.0f}' for a in measured)} MB; PyTorch "
        f"loaded in the UI process: {torch_in_ui} of {len(measured)} starts",
        f"`actlab-tui --help`: {', '.join(f'{t:.2f}' for t in s['help'])} s",
    ]
    res.figures += [
        Figure("app: command to first frame", median(s["app"]), "s", 1.0, False, "issue 12"),
        Figure(
            "app: UI process memory at first frame",
            rss,
            "MB",
            200.0,
            False,
            "issue 12",
            note="VmRSS of the app's own process; its engine process is not counted",
        ),
        Figure("`actlab-tui --help`", median(s["help"]), "s", 0.5, False, "issue 12"),
    ]
    res.details["app"] = {
        "first_frame_s": [a.seconds for a in measured],
        "rss_mb": [a.rss_mb for a in measured],
        "torch_loaded_in_ui": [a.torch_loaded for a in measured],
        "help_s": s["help"],
    }
