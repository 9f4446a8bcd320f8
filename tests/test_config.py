"""Validation: every bad setting is one line naming the value and what is allowed."""

from __future__ import annotations

import dataclasses
import json
import typing

import pytest
from actlab.engine import ConfigError, RunConfig, schema
from actlab.engine.config import PRESETS
from actlab.engine.events import ConfigDict, PartialConfig

BAD = [
    (dict(activations=("relu", "swoosh")), "unknown activation 'swoosh'"),
    (dict(activations=()), "at least one"),
    (dict(depth=0), "depth 0: must be an integer >= 1"),
    (dict(width=0), "width 0: must be an integer >= 1"),
    (dict(lr=0.0), "lr 0.0: must be a number > 0"),
    (dict(lr=-1.0), "lr -1.0"),
    (dict(lr=float("nan")), "lr nan"),
    (dict(batch_size=0), "batch_size 0"),
    (dict(thresholds=(0.8, 1.5)), "threshold 1.5: must be in (0, 1]"),
    (dict(thresholds=(0.0,)), "threshold 0.0"),
    (dict(clip="l2", clip_threshold=-1.0), "clip_threshold -1.0: must be a number > 0"),
    (dict(clip="l7"), "clip 'l7': choose from none, l2, l1, inf, value"),
    (dict(dropout=1.0), "dropout 1.0: must be in [0, 1)"),
    (dict(momentum=1.0), "momentum 1.0"),
    (dict(weight_decay=-0.1), "weight_decay -0.1"),
    (dict(init="magic"), "init 'magic'"),
    (dict(dataset="cifar"), "dataset 'cifar'"),
    (dict(dataset="idx"), "needs a data directory"),
    (dict(device="tpu"), "device 'tpu'"),
    (dict(eval_every=0), "eval_every 0"),
]


@pytest.mark.parametrize("changes,message", BAD)
def test_bad_settings_are_refused_with_one_line(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        RunConfig(**changes).validate()
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_defaults_are_valid_and_round_trip() -> None:
    c = RunConfig().validate()
    assert RunConfig.from_dict(c.to_dict()) == c
    assert c.baseline == "sigmoid"
    assert RunConfig(activations=("relu", "tanh")).baseline == "relu"


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown setting"):
        RunConfig.from_dict({"depht": 3})


def test_stored_settings_are_every_field_in_order() -> None:
    """config.json's keys are RunConfig's fields in their order, its values theirs (tuples as
    lists), and ConfigDict, which readers check it against, names each of them."""
    c = RunConfig(activations=("relu", "elu(alpha=0.5)"), max_iterations=7, data_dir="d", eval_every=3)
    stored = c.to_dict()
    names = [f.name for f in dataclasses.fields(RunConfig)]
    assert list(stored) == names
    assert stored == {
        **dataclasses.asdict(c),
        "activations": ["relu", "elu(0.5)"],
        "thresholds": [0.8, 0.9, 0.95],
    }
    assert set(typing.get_type_hints(ConfigDict)) == set(names)
    assert schema.mismatch(json.loads(c.to_json()), ConfigDict, "config") is None


def test_from_dict_keeps_defaults_for_settings_not_given() -> None:
    assert RunConfig.from_dict({"depth": 3, "activations": ["relu"]}) == RunConfig(
        depth=3, activations=("relu",)
    )
    assert RunConfig.from_dict({}) == RunConfig()


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_partial_settings(name: str) -> None:
    preset = PRESETS[name]
    assert schema.mismatch(preset, PartialConfig, name) is None
    config = RunConfig(**preset)
    assert {k: v for k, v in config.to_dict().items() if k in preset} == preset
