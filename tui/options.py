"""Command-line options shared by the app and batch mode, mapped onto RunConfig fields."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypedDict, TypeVar

import click
from actlab.engine.activations import BUILTIN_NAMES, entry_points
from actlab.engine.config import PRESETS, SETTINGS, ConfigError, RunConfig


def split_specs(value: str) -> list[str]:
    """Comma-separated items; commas inside parentheses belong to an item (f(a=1, b=2))."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in value:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth <= 0:
            parts.append("".join(current))
            current, depth = [], 0
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


T = TypeVar("T")
# a click callback: the option's text (None when not given) -> its value
Convert = Callable[[click.Context, click.Parameter, str | None], tuple[T, ...] | None]


def _csv(kind: Callable[[str], T]) -> Convert[T]:
    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[T, ...] | None:
        if value is None:
            return None
        parts = split_specs(value)
        try:
            return tuple(kind(p) for p in parts)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a comma-separated list of numbers") from None

    return convert


class OptionKwargs(TypedDict, total=False):
    """The keyword arguments of `click.option` these options use."""

    type: type[int] | type[float] | type[str] | click.Choice
    callback: Convert[object]
    metavar: str
    is_flag: bool
    flag_value: bool
    default: None
    help: str
    cls: type[click.Option]


# (option flags, RunConfig field, click keyword arguments). The help text, the choices and
# the shown default come from the field's description in RunConfig (`SETTINGS`).
CONFIG_OPTIONS: list[tuple[tuple[str, ...], str, OptionKwargs]] = [
    (("--activations", "-a"), "activations", OptionKwargs(callback=_csv(str), metavar="A,B,...")),
    (("--depth",), "depth", OptionKwargs(type=int)),
    (("--width",), "width", OptionKwargs(type=int)),
    (("--optimizer",), "optimizer", {}),
    (("--lr",), "lr", OptionKwargs(type=float)),
    (("--momentum",), "momentum", OptionKwargs(type=float)),
    (("--batch-size",), "batch_size", OptionKwargs(type=int)),
    (("--epochs",), "epochs", OptionKwargs(type=int)),
    (("--max-iterations",), "max_iterations", OptionKwargs(type=int)),
    (("--init",), "init", {}),
    (("--sigma-w2",), "sigma_w2", OptionKwargs(type=float)),
    (("--sigma-b2",), "sigma_b2", OptionKwargs(type=float)),
    (("--weight-decay", "--l2"), "weight_decay", OptionKwargs(type=float)),
    (("--l1",), "l1", OptionKwargs(type=float)),
    (("--dropout",), "dropout", OptionKwargs(type=float)),
    (("--clip",), "clip", {}),
    (("--clip-threshold",), "clip_threshold", OptionKwargs(type=float)),
    (("--loss",), "loss", {}),
    (("--input-scaling",), "input_scaling", {}),
    (("--thresholds",), "thresholds", OptionKwargs(callback=_csv(float), metavar="T,T,...")),
    (("--eval-every",), "eval_every", OptionKwargs(type=int)),
    (("--diagnostics-every",), "diagnostics_every", OptionKwargs(type=int)),
    (("--seed",), "seed", OptionKwargs(type=int)),
    (("--validation",), "validation", OptionKwargs(type=float, metavar="N|FRACTION")),
    (("--validation-seed",), "validation_seed", OptionKwargs(type=int)),
    (("--dataset", "-d"), "dataset", {}),
    (("--data-dir",), "data_dir", OptionKwargs(type=str)),
    (("--cache-dir",), "cache_dir", OptionKwargs(type=str)),
    (("--no-fallback",), "fallback", OptionKwargs(is_flag=True, flag_value=False, default=None)),
    (("--device",), "device", OptionKwargs(type=str)),
]

# What only the command line adds to a setting's help.
CLI_NOTES: dict[str, str] = {
    "activations": f"Known: {', '.join(BUILTIN_NAMES)}.",
    "data_dir": "Given alone, it implies --dataset idx.",
    "fallback": "This flag: fail instead.",
}


def option_help(field_name: str) -> str:
    """The help of a RunConfig field's option: its description, a CLI note, its default."""
    setting = SETTINGS[field_name]
    note = CLI_NOTES.get(field_name)
    text = setting.help if note is None else f"{setting.help} {note}"
    return text if setting.default_text is None else f"{text} [default: {setting.default_text}]"


class ActivationsOption(click.Option):
    """-a: its help also names the activations installed packages register, looked up only
    when the help is shown (scanning the installed packages takes tens of milliseconds)."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        found = entry_points()
        if found and self.help and "installed packages" not in self.help:
            self.help = self.help.replace(
                f"Known: {', '.join(BUILTIN_NAMES)}.",
                f"Known: {', '.join(BUILTIN_NAMES)}; from installed packages: {', '.join(found)}.",
            )
        return super().get_help_record(ctx)


def config_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for flags, field_name, kwargs in reversed(CONFIG_OPTIONS):
        kw: OptionKwargs = {**kwargs, "help": option_help(field_name)}
        if field_name == "activations":
            kw["cls"] = ActivationsOption
        kw.setdefault("default", None)
        if SETTINGS[field_name].choices:
            kw["type"] = click.Choice(SETTINGS[field_name].choices)
        f = click.option(*flags, field_name, **kw)(f)
    f = click.option(
        "--preset",
        type=click.Choice(sorted(PRESETS)),
        help="Start from a named set of settings; other options override it. 'seed' is the "
        "slides' experiment (sigmoid, tanh, relu; 1 x 100 hidden; SGD lr 0.1; batch 128; 100 "
        "epochs; MNIST).",
    )(f)
    return f


def build_config(preset: str | None, values: Mapping[str, object]) -> RunConfig:
    """Defaults, then the preset, then every option given; validated.

    `values`: what the command line gave, by parameter name (click's, so other parameters
    may be there too); a setting's value is checked by RunConfig, not here."""
    settings: dict[str, object] = dict(PRESETS[preset]) if preset else {}
    for _flags, field_name, _kw in CONFIG_OPTIONS:
        v = values.get(field_name)
        if v is not None:
            settings[field_name] = v
    if settings.get("data_dir") and "dataset" not in {k for k, v in values.items() if v is not None}:
        settings["dataset"] = "idx"
    try:
        return RunConfig.from_dict(settings).validate()  # every key is a field: no unknown ones
    except TypeError as exc:  # a value of the wrong kind that click did not catch
        raise ConfigError(str(exc)) from None
