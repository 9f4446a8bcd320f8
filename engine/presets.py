"""Presets: named starting points of a comparison (`--preset`), each documented where it is
defined, and the sweep a preset runs in batch mode (PRESET_SWEEPS). Partial settings as plain
data: RunConfig's defaults stand for the others, and `RunConfig.validate` checks them."""

from __future__ import annotations

from .events import PartialConfig

# The seed's experiment: MNIST, nets identical but for the hidden activation, 100 epochs.
# The slides do not give the architecture; we use one hidden layer of 100 units, plain SGD (no
# momentum) at lr 0.1, batch 128 and cross-entropy on softmax: a textbook MLP whose final
# accuracy lands near the seed's 0.974-0.975 for all three activations.
_SEED_EXPERIMENT: PartialConfig = {
    "activations": ["sigmoid", "tanh", "relu"],
    "depth": 1,
    "width": 100,
    "optimizer": "sgd",
    "lr": 0.1,
    "momentum": 0.0,
    "batch_size": 128,
    "epochs": 100,
    "dataset": "mnist",
}

# Presets: named starting points, each documented where it is defined.
PRESETS: dict[str, PartialConfig] = {
    "seed": _SEED_EXPERIMENT,
    # A quick look that finishes in seconds on a laptop CPU with the bundled sample.
    "quick": {"epochs": 3, "dataset": "sample"},
    # Vanishing gradients made obvious: deep and narrow, sigmoid against ReLU.
    "deep": {"activations": ["sigmoid", "tanh", "relu"], "depth": 8, "width": 64, "epochs": 5},
    # The seed's comparison, fair to each activation's learning rate: the same network swept
    # over five learning rates (PRESET_SWEEPS), so the best-lr view can tell "sigmoid is slow"
    # from "sigmoid was under-tuned". With --batch; add --seeds 3 for paired statements.
    "tuned": _SEED_EXPERIMENT.copy(),
    # Schoenholz et al.'s trainability map, small: tanh and relu from init gaussian at
    # sigma_b^2 = 0.05, swept over depth x sigma_w^2 (PRESET_SWEEPS), plain SGD, the accuracy
    # after 280 steps (5 epochs of the sample's 3,600 training images; evaluated at each
    # epoch's end only, so the final accuracy is the last one). A few minutes on a 2-core CPU;
    # docs/theory.md has the map against 6 xi_c. With --batch.
    "trainability": {
        "activations": ["tanh", "relu"],
        "init": "gaussian",
        "sigma_b2": 0.05,
        "optimizer": "sgd",
        "momentum": 0.0,
        "lr": 0.01,
        "width": 128,
        "batch_size": 64,
        "epochs": 5,
        "eval_every": 1000,
        "dataset": "sample",
    },
}

# The sweep a preset runs in batch mode when no --sweep is given.
PRESET_SWEEPS: dict[str, str] = {
    "tuned": "lr=0.01,0.03,0.1,0.3,1",
    "trainability": "depth=4,8,16,32,48,64,96 sigma_w2=1,1.3,1.5,1.76,2,2.5,3,4",
}
