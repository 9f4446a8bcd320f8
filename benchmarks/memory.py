"""Peak memory of a 5-member comparison on full-size data vs a bare `import torch, torchvision`.

Each side runs in its own fresh process and reports its own peak resident set size
(`ru_maxrss`; on a GPU both sides create the CUDA context); the two are run in turn,
A B A B, and the medians compared. The comparison
goes through the engine's own loader (`dataset="idx"`) on the 60,000-image Fashion-MNIST
files when present, else on synthetic MNIST-sized IDX files written to a temporary
directory, with evaluation and diagnostics at their default cadence.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .common import FASHION_DIR, Figure, Options, Result, interleave, median, write_synthetic_idx

NAME = "memory"
TITLE = "Peak RSS of a 5-member comparison on 60,000 images vs bare torch + torchvision"

BARE = r"""
import resource, json, sys, torch, torchvision
if sys.argv[1].startswith("cuda"):  # the same CUDA context the comparison pays for
    torch.zeros(1, device=sys.argv[1])
print(json.dumps({"peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

COMPARISON = r"""
import resource, json, sys, torch, torchvision
from actlab.engine import RunConfig, run
cfg = RunConfig(activations=("sigmoid", "tanh", "relu", "leaky_relu", "elu"), dataset="idx",
                data_dir=sys.argv[1], device=sys.argv[2], epochs=1, max_iterations=int(sys.argv[3]))
summary = run(cfg)
out = {"peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
       "train_size": summary.dataset["train_size"]}
if torch.cuda.is_available() and sys.argv[2].startswith("cuda"):
    out["cuda_peak_bytes"] = torch.cuda.max_memory_allocated()
print(json.dumps(out))
"""


def _measure(args: list[str], record: list[dict[str, float]]) -> float:
    p = subprocess.run([sys.executable, "-c", *args], check=True, capture_output=True, text=True)
    rec = json.loads(p.stdout.strip().splitlines()[-1])
    record.append(rec)
    return float(rec["peak_kb"]) * 1024 / 1e6  # MB (ru_maxrss is in KiB on Linux)


def run(opts: Options) -> Result:
    res = Result(NAME, TITLE)
    tmp: Path | None = None
    if (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file():
        data_dir, data_name = FASHION_DIR, "Fashion-MNIST"
    else:
        tmp = write_synthetic_idx(Path(tempfile.mkdtemp(prefix="actlab-bench-mem-")))
        data_dir, data_name = tmp, "synthetic MNIST-sized IDX files"
    iters = "50" if opts.quick else "200"
    records: list[dict[str, float]] = []
    try:
        s = interleave(
            {
                "bare": lambda: _measure([BARE, opts.device.type], []),
                "comparison": lambda: _measure([COMPARISON, str(data_dir), opts.device.type, iters], records),
            },
            opts.repeats(3, 1),
            warmup=0,
        )
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    bare, comp = median(s["bare"]), median(s["comparison"])
    res.lines += [
        f"data: {data_name} ({records[0]['train_size']:,} training images), 5 members, {iters} iterations, "
        "evaluation and diagnostics at the default cadence",
        f"peak RSS: bare import {bare:.0f} MB, comparison {comp:.0f} MB",
    ]
    if "cuda_peak_bytes" in records[0]:
        res.lines.append(f"CUDA peak allocated: {records[0]['cuda_peak_bytes'] / 1e6:.0f} MB")
    res.figures.append(
        Figure("peak RSS above bare torch+torchvision", comp - bare, "MB", 400, False, "issue 5")
    )
    res.details = {"peak_mib": s, "records": records, "data": data_name}
    return res
