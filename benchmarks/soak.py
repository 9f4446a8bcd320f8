"""`make soak` (`python -m benchmarks.soak [--quick]`): issue 16's soak, one part after another.

- threads (item 1): the same command quiet and beside busy processes gives identical events;
- workers (item 2): a sweep whose worker is `kill -9`ed at a random moment finishes;
- hangup (item 4): the app whose terminal goes away (the pty's master closed) at start-up,
  idle or mid-run ends within 5 s, its run stored as stopped, its engine process gone.

Each part reports its repetitions, hangs and leftover processes; the summary line is the sum,
and the exit code is 1 when any part failed. It starts and kills processes and keeps both
cores busy for minutes: run it alone, like `make bench`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from . import soak_hangup, soak_threads, soak_workers

PARTS: dict[str, tuple[Callable[[int], dict[str, Any]], int, int]] = {
    # name: (soak, repetitions, --quick repetitions)
    "threads": (soak_threads.soak, 10, 3),
    "workers": (soak_workers.soak, 20, 3),
    "hangup": (soak_hangup.soak, 50, 6),
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few repetitions of each part")
    parser.add_argument("--only", help="comma-separated parts: " + ", ".join(PARTS))
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(PARTS)
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        fn, full, quick = PARTS[name]
        t0 = time.perf_counter()
        results[name] = fn(quick if args.quick else full)
        results[name]["seconds"] = round(time.perf_counter() - t0, 1)
        print(f"== {name}: {json.dumps(results[name])}", flush=True)
    hangs = sum(int(r.get("hangs", 0)) for r in results.values())
    leftovers = sum(int(r.get("leftovers", 0)) for r in results.values())
    ok = all(r.get("ok") for r in results.values())
    reps = sum(int(r.get("repetitions", 0)) for r in results.values())
    verdict = "OK" if ok else "FAILED"
    print(f"soak: {reps} repetitions, {hangs} hangs, {leftovers} leftover processes: {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
