"""What timing each member alone (`epoch_time_alone_s`) adds to a default run.

Whole default runs (the bundled sample, sigmoid, tanh and relu, 5 epochs) report the seconds
their cost measurement took (`cost_measurement.seconds`) and their elapsed time; the figure is
the median share over the runs, against issue 9's bound of 5%. A run with a custom member
and prelu (five members) is reported beside it.
"""

from __future__ import annotations

from actlab.engine import RunConfig
from actlab.engine import run as engine_run

from .common import Figure, Options, Result, median, sample_arrays, to_dataset

NAME = "costs"
TITLE = "Each member's epoch alone: what measuring it adds to a default run"


def run(opts: Options) -> Result:
    res = Result(NAME, TITLE)
    data = to_dataset("sample", sample_arrays(), opts.device)
    configs = {
        "default (3 members)": RunConfig(device=opts.device.type),
        "5 members, leaky_relu(0.01) and prelu": RunConfig(
            device=opts.device.type,
            activations=("sigmoid", "tanh", "relu", "leaky_relu(0.01)", "prelu"),
        ),
    }
    shares: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(opts.repeats(5, 1)):
        for name, config in configs.items():  # in turn, so machine noise hits both alike
            summary = engine_run(config.replace(epochs=2 if opts.quick else 5), data=data)
            cost, elapsed = summary.cost_measurement, summary.elapsed_s
            if cost is None or cost.seconds is None or not elapsed:
                raise RuntimeError(f"{name}: the run measured no member costs")
            shares[name].append(cost.seconds / elapsed)
            res.lines.append(
                f"{name}: measuring took {cost.seconds * 1e3:.1f} ms ({cost.steps} steps each) "
                f"of a {elapsed:.2f} s run"
            )
    for name, values in shares.items():
        res.figures.append(
            Figure(f"cost measurement share of a run, {name}", median(values), "", 0.05, False, "issue 9")
        )
    res.details = {"shares": shares}
    return res
