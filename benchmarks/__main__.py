"""`python -m benchmarks [--quick] [--only NAME[,NAME]] [--device cpu|cuda|cuda:N]`.

Runs the benchmarks, prints a readable report on stdout and writes the figures as JSON to
`bench-results/latest.json` (or `--json PATH`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from actlab.engine import threads

from . import (
    cohort,
    contention,
    costs,
    diagnostics,
    evaluation,
    loop,
    matmul,
    memory,
    scaling,
    startup,
    sweep,
    tui,
)
from .common import Options, Result

BENCHMARKS: dict[str, ModuleType] = {
    m.NAME: m
    for m in (
        loop,
        cohort,
        startup,
        matmul,
        evaluation,
        memory,
        scaling,
        diagnostics,
        costs,
        sweep,
        tui,
        contention,
    )
}


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="few repeats: a smoke test, well under a minute")
    p.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    p.add_argument(
        "--device", default="cpu", help="cpu (default: the targets are for this CPU), cuda or cuda:N"
    )
    p.add_argument(
        "--threads", type=int, default=0, help="torch intra-op threads (default: torch's own choice)"
    )
    p.add_argument("--json", default="bench-results/latest.json", help="where to write the figures as JSON")
    args = p.parse_args(argv)
    unknown = [n for n in args.only.split(",") if n and n not in BENCHMARKS]
    if unknown:
        p.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        p.error(f"--device {args.device}: CUDA is not available on this machine")
    return args


def report(result: Result) -> str:
    # the 1-minute load average before and after: above the core count, a neighbour was busy
    load = f"load {result.load[0]:.1f} -> {result.load[1]:.1f}"
    out = [f"== {result.name}: {result.title}  ({result.seconds:.0f} s, {load})"]
    out += [f"  {line}" for line in result.lines]
    out += [f.line() for f in result.figures]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.threads > 0:
        threads.fixed(args.threads)  # runs' thread tuner off
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # for the subprocess benchmarks
    opts = Options(quick=args.quick, device=torch.device(args.device))
    names = [n for n in args.only.split(",") if n] or list(BENCHMARKS)
    info = machine()
    print(
        f"actlab benchmarks ({'quick' if args.quick else 'full'}) on {opts.device}: {info['cpu']}, "
        f"{info['cores']} cores, {torch.get_num_threads()} torch threads, torch {info['torch']}"
        + (f", GPU {info['gpu']}" if "gpu" in info else ""),
        flush=True,
    )
    results: list[Result] = []
    failed: list[str] = []
    t_all = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        load_before = os.getloadavg()[0]
        try:
            result = BENCHMARKS[name].run(opts)
        except Exception:  # one broken benchmark must not hide the others' figures
            failed.append(name)
            print(f"== {name}: FAILED\n{traceback.format_exc()}", flush=True)
            continue
        # a run leaves the count where its thread tuner chose it: the next benchmark starts afresh
        torch.set_num_threads(threads.fixed_count() or threads.DEFAULT_THREADS)
        result.seconds = time.perf_counter() - t0
        result.load = (load_before, os.getloadavg()[0])
        results.append(result)
        print(report(result) + "\n", flush=True)
    figures = [f for r in results for f in r.figures]
    verdicts = [f.verdict for f in figures]
    print(
        f"{verdicts.count('PASS')} PASS, {verdicts.count('MISS')} MISS, "
        f"{verdicts.count('info')} reported without target"
        + (f", {len(failed)} FAILED ({', '.join(failed)})" if failed else "")
        + f"; {time.perf_counter() - t_all:.0f} s in all"
    )
    for f in figures:
        if f.verdict == "MISS":
            print(
                f"  MISS: {f.name}: {f.value:.3g} {f.unit} "
                f"(target {'>=' if f.at_least else '<='} {f.target:g})"
            )
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "device": str(opts.device),
        "machine": info,
        "benchmarks": {
            r.name: {
                "title": r.title,
                "seconds": r.seconds,
                "load_average_1min": r.load,
                "figures": [f.to_dict() for f in r.figures],
                "lines": r.lines,
                "details": r.details,
            }
            for r in results
        },
        "failed": failed,
    }
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(f"figures written to {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
