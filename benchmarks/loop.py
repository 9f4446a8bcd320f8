"""Engine vs the usual hand-written PyTorch loop, per training step, one member.

The usual loop: `torchvision.datasets.FashionMNIST` read from IDX files in its raw layout,
`ToTensor()` + `Normalize`, `DataLoader(batch_size=64, shuffle=True)`, `nn.Sequential`,
`torch.optim.SGD` with momentum and `CrossEntropyLoss`. Same network (784-128-128-10, relu),
same initial weights, same batch size and the same evaluation cadence (the whole test split
every N iterations, N = the engine's CPU default for this data). Segments of N iterations
(one evaluation each) are timed in turn, A B A B, and the medians compared.
"""

from __future__ import annotations

from actlab.engine import RunConfig
from actlab.engine.train import resolve_eval_every

from .common import (
    EngineLoop,
    Figure,
    Options,
    Result,
    TorchvisionRoot,
    UsualLoop,
    default_sizes,
    full_dataset,
    full_size_arrays,
    interleave,
    mean_std,
    median,
    spread,
)

NAME = "loop"
TITLE = "Engine vs the usual torchvision Dataset + DataLoader loop (1 member, per step)"


def run(opts: Options) -> Result:
    res = Result(NAME, TITLE)
    name, arrays = full_size_arrays()
    data = full_dataset(opts.device)
    config = RunConfig(activations=("relu",), device=opts.device.type)
    n_eval = resolve_eval_every(config, opts.device, int(data.test_x.shape[0]))
    root = TorchvisionRoot(arrays)
    try:
        usual = UsualLoop(root.dir, default_sizes(data), mean_std(arrays), opts.device, eval_every=n_eval)
        engine = EngineLoop(config, data, opts.device, eval_every=n_eval)
        seg = n_eval  # one evaluation a turn: per-step time includes its share
        reps = opts.repeats(7, 1)
        seg_train = 50
        train_only = interleave(
            {
                "usual": lambda: usual.train(seg_train, evaluate=False),
                "engine": lambda: engine.train(seg_train, evaluate=False),
            },
            opts.repeats(9, 2),
        )
        # any N consecutive iterations hold exactly one evaluation
        with_eval = interleave(
            {"usual": lambda: usual.train(seg), "engine": lambda: engine.train(seg)},
            reps,
            warmup=0 if opts.quick else 1,
        )
        acc_usual, acc_engine = usual.evaluate(), engine.evaluate()[0]
    finally:
        root.close()
    ratio = median(with_eval["usual"]) / median(with_eval["engine"])
    ratio_train = median(train_only["usual"]) / median(train_only["engine"])
    # the fastest turn of each side: what the ratio is when no neighbour interferes
    ratio_best = min(with_eval["usual"]) / min(with_eval["engine"])
    res.lines += [
        f"data: {name}, {len(arrays[0]):,} train / {len(arrays[2]):,} test; batch 64; "
        f"evaluation every {n_eval} iterations on the whole test split; {reps} rounds",
        f"step with evaluation:  usual {spread(with_eval['usual'])}   engine {spread(with_eval['engine'])}",
        f"step, training only:   usual {spread(train_only['usual'])}   engine {spread(train_only['engine'])}",
        f"test accuracy after {engine.trainer.iteration} iterations (both learn): "
        f"usual {acc_usual:.3f}, engine {acc_engine:.3f}",
    ]
    res.figures += [
        Figure("speedup per step, same eval cadence", ratio, "x", 8.0, True, "issue 5; issue 2: 5x"),
        Figure("speedup per step, training only (no eval)", ratio_train, "x"),
        Figure("speedup per step, same eval cadence, best turns", ratio_best, "x"),
    ]
    res.details = {
        "data": name,
        "eval_every": n_eval,
        "seconds_per_step": {"with_eval": with_eval, "training_only": train_only},
    }
    return res
