"""`python -m benchmarks.theory_check [--seeds N] [--widths 512,...]`: the gradient ratio at
initialization, mean-field theory against the iteration-0 diagnostics probe (docs/theory.md).
`--map DIR`: instead, the trainability map of a `--preset trainability` sweep directory against
multiples of xi_c.

For tanh at sigma_b^2 = 0.05 in the ordered (sigma_w^2 = 1), critical (1.76) and chaotic (3)
phase, and relu at He init, at depths 4, 8, 16 and 32: |grad W_1| / |grad W_L| before the first
step, predicted (`meanfield_mlp`, from the probe batch's mean square of x) and measured, both
as each probe image's own gradient (rms over the batch, what the theory describes) and as the
batch's mean gradient (the diagnostics' grad_norm). Prints a Markdown table; not part of `make
bench` (it checks a prediction, it times nothing).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import torch
from actlab.engine import RunConfig, threads
from actlab.engine.control import Control
from actlab.engine.data import Dataset, load
from actlab.engine.diagnostics import probe_indices
from actlab.engine.events import Diagnostics, Event, RunStarted, SettingValue
from actlab.engine.experiments.theory import MemberTheory, theory_rows
from actlab.engine.meanfield import depth_curve
from actlab.engine.train import run

DEPTHS = (4, 8, 16, 32)
SETTINGS: list[tuple[str, str, dict[str, SettingValue]]] = [
    ("tanh", "ordered", {"init": "gaussian", "sigma_w2": 1.0, "sigma_b2": 0.05}),
    ("tanh", "critical", {"init": "gaussian", "sigma_w2": 1.76, "sigma_b2": 0.05}),
    ("tanh", "chaotic", {"init": "gaussian", "sigma_w2": 3.0, "sigma_b2": 0.05}),
    ("relu", "He", {"init": "kaiming_normal"}),
]


def at_initialization(config: RunConfig, data: Dataset, m2: float) -> list[MemberTheory]:
    """The members' theory with the ratio measured by the run's iteration-0 probe (stopped there)."""
    control = Control()
    seen: list[Event] = []

    def listen(event: Event) -> None:
        seen.append(event)
        if isinstance(event, Diagnostics):
            control.stop()

    run(config, listen, control, data=data)
    started = next(e for e in seen if isinstance(e, RunStarted))
    probe = next(e for e in seen if isinstance(e, Diagnostics))
    return theory_rows(config, members=started.members, diagnostics=probe, input_mean_square=m2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--widths", default="512")
    parser.add_argument("--depths", default=",".join(map(str, DEPTHS)))
    parser.add_argument("--map", metavar="DIR", help="a --preset trainability sweep directory")
    args = parser.parse_args()
    if args.map:
        trainability_map(Path(args.map))
        return
    threads.fixed(1)
    t0 = time.perf_counter()
    base = RunConfig(dataset="sample", device="cpu", diagnostics_every=1, max_iterations=1)
    data = load(base, torch.device("cpu"))
    m2 = float(data.train_x[probe_indices(len(data.train_x))].double().pow(2).mean())
    print(f"probe batch: {len(probe_indices(len(data.train_x)))} images, mean(x^2) = {m2:.4f}\n")
    print("| activation | phase | (sigma_w^2, sigma_b^2) | chi_1 | width | depth | predicted | at q* alone "
          "| measured (per image, rms) | measured / predicted | batch mean gradient |")  # fmt: skip
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for width in (int(w) for w in args.widths.split(",")):
        for act, phase, setting in SETTINGS:
            for depth in (int(d) for d in args.depths.split(",")):
                rows = []
                for seed in range(args.seeds):
                    config = base.replace(activations=(act,), depth=depth, width=width, seed=seed, **setting)
                    rows.append(at_initialization(config, data, m2)[0])
                r = rows[0]
                assert r.mean_field is not None and r.predicted_ratio is not None
                measured = [x.measured_ratio for x in rows if x.measured_ratio is not None]
                batch = [x.measured_batch_ratio for x in rows if x.measured_batch_ratio is not None]
                quotients = [m / r.predicted_ratio for m in measured]
                mf = r.mean_field
                cells = [act, phase, f"({mf.sigma_w2:g}, {mf.sigma_b2:g})", f"{mf.chi_1:.3f}", width, depth]
                cells += [f"{r.predicted_ratio:.3g}", f"{mf.predicted_grad_norm_ratio(depth):.3g}"]
                cells += [_spread(measured), _spread(quotients, 2), _spread(batch)]
                print("| " + " | ".join(map(str, cells)) + " |", flush=True)
    print(f"\n{args.seeds} seed(s) per row (mean, min-max); {time.perf_counter() - t0:.0f} s")


TRAINABLE = 0.5  # final test accuracy above this (chance is 0.1); a diverged member is not trainable


def trainability_map(root: Path) -> None:
    """Per activation: final accuracy at each (depth, sigma_w^2) point of the sweep, marked
    trainable or not, depth / xi_c beside it, and the multiples k of xi_c for which the rule
    "trainable iff depth < k xi_c" makes the fewest mistakes."""
    plan = json.loads((root / "sweep.json").read_text())
    sigma_b2 = float(plan["base"]["sigma_b2"])
    points = [(p["values"]["depth"], p["values"]["sigma_w2"], p["name"]) for p in plan["points"]]
    depths = sorted({d for d, _, _ in points})
    sigmas = sorted({w for _, w, _ in points})
    for k, act in enumerate(plan["base"]["activations"]):
        xi = {p.sigma_w2: p.xi_c for p in depth_curve(act, sigmas, sigma_b2)}
        acc: dict[tuple[int, float], float | None] = {}
        for depth, w2, name in points:
            seeds = sorted((root / name).glob("seed-*/summary.json"))
            summary = json.loads(seeds[0].read_text())
            acc[depth, w2] = summary["members"][k]["final_accuracy"]
        print(
            f"\n{act}, sigma_b^2 = {sigma_b2:g}: final accuracy (* trainable: > {TRAINABLE}), depth / xi_c\n"
        )
        print("| depth | " + " | ".join(f"sigma_w^2 = {w:g}" for w in sigmas) + " |")
        print("|---:|" + "---:|" * len(sigmas))
        print("| 6 xi_c | " + " | ".join(_depth(6 * xi[w]) for w in sigmas) + " |")
        for depth in depths:
            cells = []
            for w in sigmas:
                a = acc[depth, w]
                mark = "*" if a is not None and a > TRAINABLE else ""
                scaled = _depth(depth / xi[w]) if 0 < xi[w] < math.inf else "-"
                cells.append(f"{'div.' if a is None else f'{a:.2f}'}{mark} ({scaled})")
            print(f"| {depth} | " + " | ".join(cells) + " |")
        trainable = {key: a is not None and a > TRAINABLE for key, a in acc.items()}
        # where xi_c is infinite (criticality, relu's unbounded q) no multiple of it bounds anything
        cases = [(d / xi[w], trainable[d, w]) for d, w, _ in points if math.isfinite(xi[w])]
        ks = [0.25 * i for i in range(1, 81)]
        errors = {kk: sum((r < kk) != ok for r, ok in cases) for kk in ks}
        best = min(errors.values())
        chosen = [kk for kk in ks if errors[kk] == best]
        print(f"\nrule trainable iff depth < k xi_c, over the {len(cases)} points with a finite xi_c: fewest "
              f"mistakes {best}, at k = {chosen[0]:g} to {chosen[-1]:g}")  # fmt: skip
        for w in sigmas:
            if not math.isfinite(xi[w]):
                ok = ", ".join(str(d) for d in depths if trainable[d, w]) or "none"
                print(f"sigma_w^2 = {w:g}: xi_c infinite; trainable at depth {ok}")


def _depth(v: float) -> str:
    return "inf" if math.isinf(v) else f"{v:.3g}"


def _spread(values: list[float], digits: int = 3) -> str:
    if not values:
        return "-"
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}g}"
    return f"{mean:.{digits}g} ({min(values):.{digits}g}-{max(values):.{digits}g})"


if __name__ == "__main__":
    main()
