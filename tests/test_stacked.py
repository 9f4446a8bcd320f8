"""Seeds and per-member settings stacked in one cohort: every member follows the trajectory it
has when trained alone with its own seed and settings (its own initial weights, its own batch
order, its own learning rate...), and, for the plain case, the torch.nn reference."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from actlab.engine import ConfigError, RunConfig
from actlab.engine.data import Dataset
from actlab.engine.lockstep import Trainer, member_configs
from references import reference_run

STEPS = 12

# (base changes, variants): each a cohort of activations x variants
CASES: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
    ({}, [{"seed": 0}, {"seed": 1}, {"seed": 2}]),
    ({}, [{"seed": s, "lr": lr} for s in (0, 1) for lr in (0.01, 0.1)]),
    (
        {"clip": "l2"},
        [
            {"seed": 3, "clip_threshold": 0.2, "momentum": 0.0},
            {"seed": 4, "clip_threshold": 5.0, "momentum": 0.5},
        ],
    ),
    ({"clip": "value"}, [{"clip_threshold": 0.001}, {"clip_threshold": 0.05}]),
    (
        {"optimizer": "adam", "lr": 1e-3},
        [{"weight_decay": 0.0, "lr": 1e-3}, {"weight_decay": 0.01, "lr": 3e-3}],
    ),
    ({}, [{"l1": 0.0, "init": "default"}, {"l1": 1e-3, "init": "recommended"}]),
    ({}, [{"seed": 0, "dropout": 0.0}, {"seed": 0, "dropout": 0.3}, {"seed": 5, "dropout": 0.3}]),
    ({"dropout": 0.3}, [{"seed": 0}, {"seed": 1}]),  # one rate, several seeds: each seed's own masks
]


def _id(case: tuple[dict[str, Any], list[dict[str, Any]]]) -> str:
    base, variants = case
    keys = sorted({k for v in variants for k in v})
    return "+".join([*(f"{k}={v}" for k, v in base.items()), *keys])


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_every_stacked_member_matches_itself_alone(
    sample: Dataset, tiny_config: RunConfig, case: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    base, variants = case
    config = tiny_config.replace(activations=("sigmoid", "relu", "prelu"), **base)
    stacked = Trainer(config, sample, torch.device("cpu"), variants)
    alone = [Trainer(c, sample, torch.device("cpu")) for c in member_configs(config, variants)]
    assert stacked.cohort.size == len(alone) == 3 * len(variants)
    for _, group_batches in zip(range(STEPS), stacked.batches()):
        stacked.step(group_batches)
        for k, t in enumerate(alone):
            own = group_batches[stacked.cohort.group[k]] if group_batches.dim() == 2 else group_batches
            t.step(own)
    for k, t in enumerate(alone):
        for i, (ls, la) in enumerate(zip(stacked.cohort.layers, t.cohort.layers)):
            msg = f"member {k} ({stacked.specs[k]}, variant {variants[k // 3]}) layer {i}"
            torch.testing.assert_close(ls.weight_of(k), la.weight_of(0), rtol=1e-4, atol=1e-5, msg=msg)
            torch.testing.assert_close(ls.bias[k], la.bias[0], rtol=1e-4, atol=1e-5, msg=msg)
        if stacked.cohort.slopes is not None and stacked.cohort.learned(k):
            assert t.cohort.slopes is not None
            torch.testing.assert_close(stacked.cohort.slopes[k], t.cohort.slopes[0], rtol=1e-4, atol=1e-6)


def test_each_seed_has_its_own_weights_and_batches(sample: Dataset, tiny_config: RunConfig) -> None:
    variants: list[dict[str, Any]] = [{"seed": 0}, {"seed": 1}]
    t = Trainer(tiny_config.replace(activations=("tanh", "relu")), sample, torch.device("cpu"), variants)
    w = t.cohort.layers[0]
    assert torch.equal(w.weight_of(0), w.weight_of(1))  # one seed: members start alike
    assert not torch.equal(w.weight_of(0), w.weight_of(2))  # another seed: other weights
    first = t.batches()[0]
    assert first.shape == (2, tiny_config.batch_size) and not torch.equal(first[0], first[1])
    alone = Trainer(tiny_config.replace(seed=1), sample, torch.device("cpu"))
    assert torch.equal(first[1], alone.batches()[0])


def test_a_stacked_member_matches_the_torch_nn_reference(sample: Dataset, tiny_config: RunConfig) -> None:
    config = tiny_config.replace(activations=("tanh", "relu"))
    variants: list[dict[str, Any]] = [{"seed": 0, "lr": 0.02}, {"seed": 7, "lr": 0.2}]
    stacked = Trainer(config, sample, torch.device("cpu"), variants)
    batches = [b for _, b in zip(range(STEPS), stacked.batches())]
    for b in batches:
        stacked.step(b)
    k = 3  # relu, seed 7, lr 0.2
    own = config.replace(seed=7, lr=0.2)
    ref = reference_run(own, sample, "relu", [b[1] for b in batches])
    linears = [m for m in ref if isinstance(m, torch.nn.Linear)]
    for layer, lin in zip(stacked.cohort.layers, linears):
        torch.testing.assert_close(layer.weight_of(k).t(), lin.weight.detach(), rtol=1e-4, atol=2e-5)


def test_a_diverged_stacked_member_is_retired_and_the_others_go_on(
    sample: Dataset, tiny_config: RunConfig
) -> None:
    config = tiny_config.replace(activations=("sigmoid", "relu"), loss="cross_entropy")
    variants: list[dict[str, Any]] = [
        {"seed": 0, "lr": 0.05},
        {"seed": 1, "lr": 1e30},
        {"seed": 2, "lr": 0.05},
    ]
    stacked = Trainer(config, sample, torch.device("cpu"), variants)
    alone = Trainer(config.replace(seed=2), sample, torch.device("cpu"))
    dead: list[tuple[int, int]] = []
    for b in stacked.batches()[:STEPS]:
        stacked.step(b)
        alone.step(b[2])
        dead += stacked.read_divergence()
    gone = {m for m, _ in dead}
    assert 3 in gone and gone <= {2, 3}  # relu at lr 1e30 (sigmoid may stay finite, saturated)
    assert stacked.members == [m for m in range(6) if m not in gone]
    for m, k in ((4, 0), (5, 1)):  # seed 2's members, in their new slots
        slot = stacked.members.index(m)
        for ls, la in zip(stacked.cohort.layers, alone.cohort.layers):
            torch.testing.assert_close(ls.weight_of(slot), la.weight_of(k), rtol=1e-4, atol=1e-5)


def test_only_per_member_settings_may_vary(tiny_config: RunConfig) -> None:
    with pytest.raises(ConfigError, match="per-member setting.*depth"):
        member_configs(tiny_config, [{"depth": 3}])


def test_a_run_whose_members_all_diverge_ends_as_diverged_not_as_an_error(
    sample: Dataset, tiny_config: RunConfig
) -> None:
    from actlab.engine.train import run

    summary = run(tiny_config.replace(activations=("relu", "elu"), lr=1e30), data=sample)
    assert summary.status == "done"
    assert [m.status for m in summary.members] == ["diverged", "diverged"]
