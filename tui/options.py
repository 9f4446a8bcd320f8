"""Command-line options shared by the app and batch mode, mapped onto RunConfig fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from actlab.engine.activations import ACTIVATIONS
from actlab.engine.config import (
    CLIPS,
    DATASETS,
    INITS,
    LOSSES,
    OPTIMIZERS,
    PRESETS,
    SCALINGS,
    ConfigError,
    RunConfig,
)


def _csv(kind: Callable[[str], Any]) -> Callable[[click.Context, click.Parameter, str | None], Any]:
    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        if value is None:
            return None
        parts = [p.strip() for p in value.split(",") if p.strip()]
        try:
            return tuple(kind(p) for p in parts)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a comma-separated list of numbers") from None

    return convert


# (option flags, RunConfig field, click keyword arguments)
CONFIG_OPTIONS: list[tuple[tuple[str, ...], str, dict[str, Any]]] = [
    (
        ("--activations", "-a"),
        "activations",
        dict(
            callback=_csv(str),
            metavar="A,B,...",
            help=f"Hidden activations to compare, one member each. Known: {', '.join(ACTIVATIONS)}. "
            "[default: sigmoid,tanh,relu]",
        ),
    ),
    (("--depth",), "depth", dict(type=int, help="Hidden layers (>= 1). [default: 2]")),
    (("--width",), "width", dict(type=int, help="Units per hidden layer (>= 1). [default: 128]")),
    (
        ("--optimizer",),
        "optimizer",
        dict(type=click.Choice(OPTIMIZERS), help="sgd (with --momentum) or adam. [default: sgd]"),
    ),
    (("--lr",), "lr", dict(type=float, help="Learning rate (> 0). [default: 0.05]")),
    (("--momentum",), "momentum", dict(type=float, help="SGD momentum in [0, 1). [default: 0.9]")),
    (("--batch-size",), "batch_size", dict(type=int, help="Mini-batch size (>= 1). [default: 64]")),
    (("--epochs",), "epochs", dict(type=int, help="Passes over the training split. [default: 5]")),
    (
        ("--max-iterations",),
        "max_iterations",
        dict(type=int, help="Stop after this many iterations, even mid-epoch."),
    ),
    (
        ("--init",),
        "init",
        dict(
            type=click.Choice(INITS),
            help="Weight initialization, the same tensors for every member; 'recommended' gives each "
            "activation its own (Xavier for sigmoid/tanh, He for the ReLU family). [default: default, "
            "PyTorch's nn.Linear]",
        ),
    ),
    (
        ("--weight-decay", "--l2"),
        "weight_decay",
        dict(type=float, help="L2 penalty on weights (not biases), added to the gradient. [default: 0]"),
    ),
    (("--l1",), "l1", dict(type=float, help="L1 penalty on weights. [default: 0]")),
    (
        ("--dropout",),
        "dropout",
        dict(
            type=float,
            help="Dropout on hidden layers in [0, 1); one mask shared by all members. [default: 0]",
        ),
    ),
    (
        ("--clip",),
        "clip",
        dict(
            type=click.Choice(CLIPS),
            help="Gradient clipping per member: l2, l1 or inf scales g to g*threshold/norm(g) when the "
            "norm exceeds the threshold; value clamps each element to [-t, t]. [default: none]",
        ),
    ),
    (
        ("--clip-threshold",),
        "clip_threshold",
        dict(type=float, help="Threshold for --clip (> 0). [default: 1.0]"),
    ),
    (
        ("--loss",),
        "loss",
        dict(
            type=click.Choice(LOSSES),
            help="cross_entropy on softmax, or mse between softmax and one-hot. [default: cross_entropy]",
        ),
    ),
    (
        ("--input-scaling",),
        "input_scaling",
        dict(
            type=click.Choice(SCALINGS),
            help="standard (zero mean, unit variance), unit ([0, 1]) or raw (0-255, saturates "
            "sigmoid/tanh). [default: standard]",
        ),
    ),
    (
        ("--thresholds",),
        "thresholds",
        dict(
            callback=_csv(float),
            metavar="T,T,...",
            help="Test-accuracy thresholds in (0, 1]. [default: 0.8,0.9,0.95]",
        ),
    ),
    (
        ("--eval-every",),
        "eval_every",
        dict(
            type=int,
            help="Evaluate on the whole test split every N iterations (and at each epoch end). "
            "[default: auto; 5 on a GPU, about test size / batch size on a CPU]",
        ),
    ),
    (
        ("--diagnostics-every",),
        "diagnostics_every",
        dict(type=int, help="Probe-batch diagnostics every N iterations; 0 turns them off. [default: auto]"),
    ),
    (("--seed",), "seed", dict(type=int, help="Seed for weights and batch order. [default: 0]")),
    (
        ("--dataset", "-d"),
        "dataset",
        dict(
            type=click.Choice(DATASETS),
            help="sample (5,000 bundled MNIST digits, offline), mnist, fashion, kmnist (downloaded by "
            "torchvision into the cache), or idx (with --data-dir). [default: sample]",
        ),
    ),
    (
        ("--data-dir",),
        "data_dir",
        dict(
            type=str, help="Directory of the four standard IDX files, gzipped or not; implies --dataset idx."
        ),
    ),
    (("--cache-dir",), "cache_dir", dict(type=str, help="Downloads and caches. [default: ~/.cache/actlab]")),
    (
        ("--no-fallback",),
        "fallback",
        dict(
            is_flag=True,
            flag_value=False,
            default=None,
            help="Fail instead of using the bundled sample when MNIST cannot be downloaded.",
        ),
    ),
    (("--device",), "device", dict(type=str, help="auto, cpu, cuda or cuda:N. [default: auto]")),
]


def config_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for flags, field_name, kwargs in reversed(CONFIG_OPTIONS):
        kw = dict(kwargs)
        kw.setdefault("default", None)
        f = click.option(*flags, field_name, **kw)(f)
    f = click.option(
        "--preset",
        type=click.Choice(sorted(PRESETS)),
        help="Start from a named set of settings; other options override it. 'seed' is the "
        "slides' experiment (sigmoid, tanh, relu; 1 x 100 hidden; SGD lr 0.1; batch 128; 100 "
        "epochs; MNIST).",
    )(f)
    return f


def build_config(preset: str | None, values: dict[str, Any]) -> RunConfig:
    """Defaults, then the preset, then every option given; validated."""
    settings: dict[str, Any] = dict(PRESETS[preset]) if preset else {}
    for _flags, field_name, _kw in CONFIG_OPTIONS:
        v = values.get(field_name)
        if v is not None:
            settings[field_name] = v
    if settings.get("data_dir") and "dataset" not in {k for k, v in values.items() if v is not None}:
        settings["dataset"] = "idx"
    try:
        return RunConfig(**settings).validate()
    except TypeError as exc:  # a value of the wrong kind that click did not catch
        raise ConfigError(str(exc)) from None
