"""Validation: every bad setting is one line naming the value and what is allowed."""

from __future__ import annotations

import pytest
from actlab.engine import ConfigError, RunConfig

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
