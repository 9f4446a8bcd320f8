"""The one dataclass of a run: every setting, its default, and its validation."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .events import ConfigDict
from .presets import PRESET_SWEEPS as PRESET_SWEEPS  # re-exported: readers find them here
from .presets import PRESETS as PRESETS

OPTIMIZERS = ("sgd", "adam")
INITS = (
    "default",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "lecun_normal",
    "orthogonal",
    "zeros",
    "recommended",
    "gaussian",
)
CLIPS = ("none", "l2", "l1", "inf", "value")
LOSSES = ("cross_entropy", "mse")
SCALINGS = ("standard", "unit", "raw")
DATASETS = ("sample", "mnist", "fashion", "kmnist", "idx")
DEFAULT_ACTIVATIONS = ("sigmoid", "tanh", "relu")


class ConfigError(ValueError):
    """A setting outside what is allowed; the message is one line naming value and range."""


# Each RunConfig field carries its description for people: the command line's help, the
# form's label and tooltip, and the allowed choices all come from here.
@dataclass(frozen=True)
class Setting:
    """How one RunConfig field is described: label, help (a sentence or two) and choices."""

    name: str
    label: str  # short, for the form
    help: str  # the option's help and the form field's tooltip
    choices: tuple[str, ...]  # empty: any value the type allows
    default: Any
    default_text: str | None  # the default as the help shows it; None: not shown

    def help_with_default(self) -> str:
        return self.help if self.default_text is None else f"{self.help} [default: {self.default_text}]"


def _setting(
    default: Any,
    label: str,
    help: str,
    *,
    choices: tuple[str, ...] = (),
    default_text: str | None = None,
) -> Any:
    """A RunConfig field with its description; `default_text` overrides the shown default."""
    meta = {"label": label, "help": help, "choices": choices, "default_text": default_text}
    return field(default=default, metadata=meta)


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return None  # a flag: its help says what it changes
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ",".join(_shown(v) or "" for v in value)
    return str(value)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a comparison. Members differ only by `activations`."""

    activations: tuple[str, ...] = _setting(
        DEFAULT_ACTIVATIONS,
        "activations",
        "Hidden activations to compare, one member each: a name, with parameters where it has "
        "any (leaky_relu(0.01), elu(alpha=0.5), silu(beta=1.5), softplus(beta=2)), prelu (slope "
        "learned per layer), or your own function: module:function or file.py:function.",
    )
    depth: int = _setting(2, "hidden layers", "Hidden layers (>= 1), each of the same width.")
    width: int = _setting(128, "units/layer", "Units per hidden layer (>= 1).")
    optimizer: str = _setting("sgd", "optimizer", "sgd (with momentum) or adam.", choices=OPTIMIZERS)
    lr: float = _setting(0.05, "learning rate", "Learning rate: the optimizer's step size (> 0).")
    momentum: float = _setting(0.9, "momentum", "SGD momentum in [0, 1); adam ignores it.")
    batch_size: int = _setting(64, "batch size", "Mini-batch size: samples per iteration (>= 1).")
    epochs: int = _setting(5, "epochs", "Passes over the training split (>= 1).")
    max_iterations: int | None = _setting(
        None,
        "max iterations",
        "Stop after this many iterations, even mid-epoch.",
        default_text="every epoch in full",
    )
    init: str = _setting(
        "default",
        "weight init",
        "Weight initialization, the same tensors for every member; 'recommended' gives each "
        "activation its own (Xavier for sigmoid/tanh, He for the ReLU family); 'gaussian' places the "
        "net on the mean-field phase diagram: weights N(0, sigma_w2 / fan_in) and biases "
        "N(0, sigma_b2) in every layer, the output layer included.",
        choices=INITS,
        default_text="default, PyTorch's nn.Linear",
    )
    sigma_w2: float = _setting(
        1.0,
        "sigma_w^2",
        "With init gaussian: the weights' variance times fan_in, in every layer (> 0); "
        "tanh with sigma_b2 0.05 is critical at 1.76. Ignored by the other inits.",
    )
    sigma_b2: float = _setting(
        0.0,
        "sigma_b^2",
        "With init gaussian: the biases' variance, in every layer (>= 0). Ignored by the other inits.",
    )
    weight_decay: float = _setting(
        0.0, "L2", "L2 penalty on weights (not biases), added to the gradient (>= 0)."
    )
    l1: float = _setting(0.0, "L1", "L1 penalty on weights (>= 0).")
    dropout: float = _setting(
        0.0, "dropout", "Dropout on hidden layers in [0, 1); one mask shared by all members."
    )
    clip: str = _setting(
        "none",
        "clipping",
        "Gradient clipping per member: l2, l1 or inf scales g to g*threshold/norm(g) when that "
        "norm exceeds the threshold; value clamps each element to [-threshold, threshold].",
        choices=CLIPS,
    )
    clip_threshold: float = _setting(1.0, "clip threshold", "Threshold of the clipping (> 0).")
    loss: str = _setting(
        "cross_entropy",
        "loss",
        "cross_entropy on softmax, or mse between softmax and one-hot.",
        choices=LOSSES,
    )
    input_scaling: str = _setting(
        "standard",
        "input scaling",
        "standard (zero mean, unit variance), unit ([0, 1]) or raw (0-255, saturates sigmoid/tanh).",
        choices=SCALINGS,
    )
    thresholds: tuple[float, ...] = _setting(
        (0.8, 0.9, 0.95), "thresholds", "Test-accuracy thresholds to time, comma-separated, each in (0, 1]."
    )
    eval_every: int | None = _setting(
        None,
        "evaluate every",
        "Evaluate on the whole test split every N iterations (and at each epoch end).",
        default_text="auto; 5 on a GPU, about test size / batch size on a CPU",  # resolve_eval_every
    )
    diagnostics_every: int | None = _setting(
        None,
        "diagnostics every",
        "Probe-batch diagnostics every N iterations; 0 turns them off.",
        default_text="auto, from the evaluation cadence",
    )
    seed: int = _setting(0, "seed", "Seed for the initial weights and batch order (>= 0).")
    validation: float | None = _setting(
        None,
        "validation",
        "Validation split carved once from the training split, stratified by class, the same for "
        "every member and seed: a number of images (a whole number >= 1) or a fraction of the "
        "training split in (0, 1); 0 for none. Choices (best lr, winners, the verdict) are made on "
        "it; thresholds stay on the test split.",
        default_text="auto: 0.1 with --seeds or --sweep, else 0",  # resolve_validation
    )
    validation_seed: int = _setting(
        0,
        "validation seed",
        "Seed of the validation split's draw: its own, so the split is the same for every seed (>= 0).",
    )
    dataset: str = _setting(
        "sample",
        "dataset",
        "sample (5,000 bundled MNIST digits, offline), mnist, fashion, kmnist (downloaded by "
        "torchvision into the cache), or idx (a directory of IDX files).",
        choices=DATASETS,
    )
    data_dir: str | None = _setting(
        None, "data dir", "Directory of the four standard IDX files (dataset idx), gzipped or not."
    )
    cache_dir: str | None = _setting(
        None, "cache dir", "Downloads and parsed caches.", default_text="~/.cache/actlab"
    )
    fallback: bool = _setting(
        True,
        "fallback",
        "When MNIST cannot be downloaded, use the bundled sample (and say so) rather than fail.",
    )
    device: str = _setting("auto", "device", "auto, cpu, cuda or cuda:N.")

    def __post_init__(self) -> None:
        # Accept lists (from JSON or click) but store tuples so the config stays hashable; each
        # member by its canonical spec (elu(alpha=0.5) -> elu(0.5)); `validate` reports bad ones.
        from .activations import SpecError, canonical

        specs = []
        for spec in tuple(self.activations):
            try:
                specs.append(canonical(spec))
            except SpecError:
                specs.append(spec)
        object.__setattr__(self, "activations", tuple(specs))
        object.__setattr__(self, "thresholds", tuple(float(t) for t in self.thresholds))

    def validate(self) -> RunConfig:
        """Raise ConfigError with a one-line reason for the first bad setting."""
        from .activations import SpecError, member_spec  # local: activations imports nothing from here

        if not self.activations:
            raise ConfigError("activations: at least one is needed")
        for name in self.activations:
            try:
                ms = member_spec(name)
            except SpecError as exc:
                raise ConfigError(str(exc)) from None
            if ms.is_file:  # more is checked before a run, where the function is imported
                path = ms.target.rpartition(":")[0]
                if not os.path.isfile(os.path.expanduser(path)):
                    raise ConfigError(f"activation {name!r}: no file {path!r}")
        if len(set(self.activations)) != len(self.activations):
            raise ConfigError(f"activations {', '.join(self.activations)}: each may appear once")
        _int_at_least("depth", self.depth, 1)
        _int_at_least("width", self.width, 1)
        _int_at_least("batch_size", self.batch_size, 1)
        _int_at_least("epochs", self.epochs, 1)
        if self.max_iterations is not None:
            _int_at_least("max_iterations", self.max_iterations, 1)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("init", self.init, INITS)
        _positive("sigma_w2", self.sigma_w2)
        _non_negative("sigma_b2", self.sigma_b2)
        _choice("clip", self.clip, CLIPS)
        _choice("loss", self.loss, LOSSES)
        _choice("input_scaling", self.input_scaling, SCALINGS)
        _choice("dataset", self.dataset, DATASETS)
        _positive("lr", self.lr)
        _in_range("momentum", self.momentum, 0.0, 1.0, closed_high=False)
        _non_negative("weight_decay", self.weight_decay)
        _non_negative("l1", self.l1)
        _in_range("dropout", self.dropout, 0.0, 1.0, closed_high=False)
        if not _finite(self.clip_threshold) or self.clip_threshold <= 0:
            raise ConfigError(f"clip_threshold {self.clip_threshold}: must be a number > 0")
        for name in ("lr", "weight_decay", "l1", "clip_threshold", "sigma_w2", "sigma_b2"):
            _float32(name, getattr(self, name))
        if not self.thresholds:
            raise ConfigError("thresholds: at least one is needed")
        for t in self.thresholds:
            if not _finite(t) or not 0 < t <= 1:
                raise ConfigError(f"threshold {t}: must be in (0, 1]")
        if len(set(self.thresholds)) != len(self.thresholds):
            listed = ", ".join(f"{t:g}" for t in self.thresholds)
            raise ConfigError(f"thresholds {listed}: each may appear once")
        if self.eval_every is not None:
            _int_at_least("eval_every", self.eval_every, 1)
        if self.diagnostics_every is not None:
            _int_at_least("diagnostics_every", self.diagnostics_every, 0)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"seed {self.seed!r}: must be an integer in [0, 2^62]")
        _check_validation(self.validation)
        _int_at_least("validation_seed", self.validation_seed, 0)
        for name in ("data_dir", "cache_dir"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise ConfigError(f"{name} {getattr(self, name)!r}: must be a directory path")
        if not isinstance(self.fallback, bool):
            raise ConfigError(f"fallback {self.fallback!r}: must be true or false")
        if self.dataset == "idx" and not self.data_dir:
            raise ConfigError("dataset 'idx' needs a data directory (--data-dir)")
        dev = self.device
        if not isinstance(dev, str) or not (
            dev in ("auto", "cpu", "cuda")
            or (dev.startswith("cuda:") and dev[5:].isascii() and dev[5:].isdigit())
        ):
            raise ConfigError(f"device {dev!r}: must be auto, cpu, cuda or cuda:N")
        # Every device's weights are built in host memory first: a network that cannot fit
        # there is refused now, before anything is allocated.
        check_network_fits(self, host_memory_bytes(), "this machine")
        return self

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)

    @property
    def baseline(self) -> str:
        """The member speedups are measured against: sigmoid when present, else the first."""
        return "sigmoid" if "sigmoid" in self.activations else self.activations[0]

    def to_dict(self) -> ConfigDict:
        """Every setting, in field order (config.json's key order)."""
        return {
            "activations": list(self.activations),
            "depth": self.depth,
            "width": self.width,
            "optimizer": self.optimizer,
            "lr": self.lr,
            "momentum": self.momentum,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "max_iterations": self.max_iterations,
            "init": self.init,
            "sigma_w2": self.sigma_w2,
            "sigma_b2": self.sigma_b2,
            "weight_decay": self.weight_decay,
            "l1": self.l1,
            "dropout": self.dropout,
            "clip": self.clip,
            "clip_threshold": self.clip_threshold,
            "loss": self.loss,
            "input_scaling": self.input_scaling,
            "thresholds": list(self.thresholds),
            "eval_every": self.eval_every,
            "diagnostics_every": self.diagnostics_every,
            "seed": self.seed,
            "validation": self.validation,
            "validation_seed": self.validation_seed,
            "dataset": self.dataset,
            "data_dir": self.data_dir,
            "cache_dir": self.cache_dir,
            "fallback": self.fallback,
            "device": self.device,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> RunConfig:
        """The defaults with each setting `d` gives (stored JSON: `validate` checks the
        values); ConfigError for a name that is no setting."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls().replace(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def resolve_validation(self, repeated: bool) -> RunConfig:
        """The validation split made explicit: as given, or (auto) 10% of the training split
        for a comparison repeated over seeds or swept, where choices are made, and none for a
        single run (the slides' protocol: it chooses nothing)."""
        if self.validation is not None:
            return self
        return self.replace(validation=AUTO_VALIDATION if repeated else 0.0)

    @property
    def validation_images(self) -> bool:
        """Whether `validation` counts images (>= 1) rather than a fraction."""
        return self.validation is not None and self.validation >= 1


AUTO_VALIDATION = 0.1


def _check_validation(value: Any) -> None:
    if value is None:
        return
    if not _finite(value) or value < 0:
        raise ConfigError(f"validation {value!r}: must be 0, a fraction in (0, 1) or a number of images >= 1")
    if value >= 1 and float(value) != int(value):
        raise ConfigError(
            f"validation {value!r}: a number of images must be whole; a fraction must be in (0, 1)"
        )


MAX_SEED = 2**62  # torch takes seeds below 2^64; seed + 2 and --seeds must stay there too
FLOAT32_MAX = 3.4028234663852886e38
MNIST_FEATURES, MNIST_CLASSES = 784, 10


def _float32(name: str, value: float) -> None:
    """Training runs in float32: a value that overflows it, or a positive one that rounds
    to zero there, would silently change the run."""
    if abs(value) > FLOAT32_MAX:
        raise ConfigError(f"{name} {value!r}: must be at most 3.4e38 (training runs in float32)")
    if 0 < abs(value) <= 2.0**-150:  # half the smallest float32 rounds to 0
        raise ConfigError(f"{name} {value!r}: rounds to 0 in float32, which training runs in (use >= 1e-45)")


def check_data_source(config: RunConfig) -> None:
    """--data-dir names IDX files, so it goes with dataset idx only. (Not in `validate`: the
    app's form keeps a hidden data directory while another dataset is chosen.)"""
    if config.data_dir and config.dataset != "idx":
        raise ConfigError(
            f"dataset {config.dataset!r} with data directory {config.data_dir!r}: a data directory "
            "is read as dataset idx; drop --dataset or use --dataset idx"
        )


def network_memory_bytes(
    config: RunConfig, n_features: int = MNIST_FEATURES, n_classes: int = MNIST_CLASSES
) -> int:
    """A lower bound on the memory a comparison's training needs: per member, the float32
    weights with their gradients and optimizer state (momentum; Adam keeps a second moment),
    plus the pre-activations, activations and their gradients for one batch."""
    w, d = config.width, config.depth  # in closed form: a depth of 10^9 is refused, not listed
    params = (n_features + 1) * w + (d - 1) * (w + 1) * w + (w + 1) * n_classes
    copies = 3 + (config.optimizer == "adam")  # weights, gradients, momentum (+ Adam's 2nd)
    batch_values = 3 * config.batch_size * (d * w + n_classes)
    return 4 * len(config.activations) * (copies * params + batch_values)


def check_network_fits(
    config: RunConfig, available: int | None, where: str, n_features: int = MNIST_FEATURES
) -> None:
    if not available:
        return
    need = network_memory_bytes(config, n_features)
    if need > available:
        raise ConfigError(
            f"network of depth {config.depth} x width {config.width} ({len(config.activations)} members, "
            f"batch {config.batch_size}) needs ~{_gb(need)} GB, more than the {_gb(available)} GB {where} has"
        )


def host_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None  # not known on this platform: no check


def _gb(n: int) -> str:
    gb = n / 1e9
    return f"{gb:,.0f}" if gb >= 10 else f"{gb:.2g}"


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _int_at_least(name: str, value: Any, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"{name} {value!r}: must be an integer >= {low}")


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} {value!r}: choose from {', '.join(allowed)}")


def _positive(name: str, value: Any) -> None:
    if not _finite(value) or value <= 0:
        raise ConfigError(f"{name} {value!r}: must be a number > 0")


def _non_negative(name: str, value: Any) -> None:
    if not _finite(value) or value < 0:
        raise ConfigError(f"{name} {value!r}: must be a number >= 0")


def _in_range(name: str, value: Any, low: float, high: float, *, closed_high: bool) -> None:
    ok = _finite(value) and low <= value and (value <= high if closed_high else value < high)
    if not ok:
        bracket = "]" if closed_high else ")"
        raise ConfigError(f"{name} {value!r}: must be in [{low:g}, {high:g}{bracket}")


SETTINGS: dict[str, Setting] = {
    f.name: Setting(
        f.name,
        f.metadata["label"],
        f.metadata["help"],
        f.metadata["choices"],
        f.default,
        f.metadata["default_text"] or _shown(f.default),
    )
    for f in fields(RunConfig)
}
