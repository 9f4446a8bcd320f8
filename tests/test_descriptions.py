"""One description per setting: the command line's help, the form's labels and tooltips, and
the choices all come from the RunConfig field's description, with defaults from the code."""

from __future__ import annotations

import dataclasses

import click
from actlab.engine.config import CLIPS, DATASETS, INITS, LOSSES, OPTIMIZERS, SCALINGS, SETTINGS, RunConfig
from actlab.tui.cli import cli
from actlab.tui.options import CLI_NOTES, option_help
from actlab.tui.settings import FIELDS


def test_every_field_is_described() -> None:
    names = [f.name for f in dataclasses.fields(RunConfig)]
    assert list(SETTINGS) == names
    for name, setting in SETTINGS.items():
        assert setting.label and setting.help.endswith("."), name
        assert "[default" not in setting.help, name  # the default is added from the code
        assert setting.default == getattr(RunConfig(), name)
    # the choices described are the ones validate() allows
    described = {n: SETTINGS[n].choices for n in ("optimizer", "init", "clip", "loss", "input_scaling")}
    assert described == dict(
        optimizer=OPTIMIZERS, init=INITS, clip=CLIPS, loss=LOSSES, input_scaling=SCALINGS
    )
    assert SETTINGS["dataset"].choices == DATASETS


def test_shown_defaults_come_from_the_code() -> None:
    assert SETTINGS["depth"].default_text == str(RunConfig().depth)
    assert SETTINGS["lr"].default_text == f"{RunConfig().lr:g}"
    assert SETTINGS["activations"].default_text == ",".join(RunConfig().activations)
    assert SETTINGS["thresholds"].default_text == ",".join(f"{t:g}" for t in RunConfig().thresholds)
    assert SETTINGS["data_dir"].default_text is None  # no default worth showing


def test_every_option_help_is_the_fields_description() -> None:
    options = {p.name: p for p in cli.params if isinstance(p, click.Option)}
    for name, setting in SETTINGS.items():
        option = options[name]  # every RunConfig field can be set on the command line
        assert option.help == option_help(name)
        assert option.help.startswith(setting.help)
        if name in CLI_NOTES:
            assert CLI_NOTES[name] in option.help
        if setting.default_text is not None:
            assert option.help.endswith(f"[default: {setting.default_text}]")
        if setting.choices:
            assert isinstance(option.type, click.Choice) and tuple(option.type.choices) == setting.choices


def test_every_form_field_label_and_tooltip_is_the_fields_description() -> None:
    for spec in FIELDS:
        setting = SETTINGS[spec.name]
        assert spec.label == setting.label
        assert spec.tooltip == setting.help_with_default()
        assert spec.choices == setting.choices
