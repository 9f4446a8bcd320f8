"""Fair comparison: a member trained in the cohort follows the trajectory of the same network
trained alone with torch.nn and torch.optim, and of itself trained alone by the engine."""

from __future__ import annotations

import pytest
import torch
from actlab.engine import RunConfig
from actlab.engine.data import Dataset
from actlab.engine.lockstep import Trainer
from references import reference_run

STEPS = 25


CASES = [
    dict(),
    dict(optimizer="adam", lr=1e-3, weight_decay=1e-3),
    dict(l1=1e-4, clip="l2", clip_threshold=0.5),
    dict(loss="mse", clip="inf", clip_threshold=0.01, lr=0.5),
    dict(clip="l1", clip_threshold=5.0, init="xavier_normal"),
    dict(clip="value", clip_threshold=0.001, momentum=0.0, init="kaiming_uniform"),
]


@pytest.mark.parametrize(
    "changes", CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default"
)
def test_member_in_cohort_matches_reference(sample: Dataset, tiny_config: RunConfig, changes: dict) -> None:
    config = tiny_config.replace(activations=("sigmoid", "tanh", "relu", "gelu"), **changes)
    trainer = Trainer(config, sample, torch.device("cpu"))
    batches = trainer.batches()[:STEPS]
    for idx in batches:
        trainer.step(idx)
    for k, act in enumerate(config.activations):
        ref = reference_run(config, sample, act, batches)
        linears = [m for m in ref if isinstance(m, torch.nn.Linear)]
        for i, lin in enumerate(linears):
            layer = trainer.cohort.layers[i]
            torch.testing.assert_close(layer.weight_of(k).t(), lin.weight.detach(), rtol=1e-4, atol=2e-5)
            torch.testing.assert_close(layer.bias[k], lin.bias.detach(), rtol=1e-4, atol=2e-5)


def test_member_in_cohort_matches_itself_alone(sample: Dataset, tiny_config: RunConfig) -> None:
    cohort = Trainer(tiny_config, sample, torch.device("cpu"))
    alone = Trainer(tiny_config.replace(activations=("tanh",)), sample, torch.device("cpu"))
    batches = cohort.batches()[:STEPS]
    assert all(torch.equal(a, b) for a, b in zip(batches, alone.batches()[:STEPS]))  # same order
    for idx in batches:
        cohort.step(idx)
        alone.step(idx)
    k = tiny_config.activations.index("tanh")
    for lc, la in zip(cohort.cohort.layers, alone.cohort.layers):
        torch.testing.assert_close(lc.weight_of(k), la.weight_of(0), rtol=1e-5, atol=1e-6)


def test_members_start_from_identical_weights(sample: Dataset, tiny_config: RunConfig) -> None:
    trainer = Trainer(tiny_config, sample, torch.device("cpu"))
    for layer in trainer.cohort.layers:
        for k in range(1, trainer.cohort.size):
            assert torch.equal(layer.weight_of(0), layer.weight_of(k))
            assert torch.equal(layer.bias[0], layer.bias[k])


def test_recommended_init_differs_by_activation(sample: Dataset, tiny_config: RunConfig) -> None:
    trainer = Trainer(tiny_config.replace(init="recommended"), sample, torch.device("cpu"))
    w = trainer.cohort.layers[0]
    assert not torch.equal(w.weight_of(0), w.weight_of(2))  # sigmoid: Xavier, relu: He


def test_clipping_follows_the_formula(sample: Dataset, tiny_config: RunConfig) -> None:
    """g * threshold / norm(g) per member when its norm exceeds the threshold (L2, L1, Linf)."""
    torch.manual_seed(0)
    for mode, p in (("l2", 2.0), ("l1", 1.0), ("inf", float("inf"))):
        trainer = Trainer(tiny_config.replace(clip=mode, clip_threshold=3.0), sample, torch.device("cpu"))
        params = trainer.cohort.parameters()
        scales = torch.tensor([0.01, 1.0, 100.0])  # member 0 under the threshold, 2 far above
        grads = []
        for t, d in zip(params, trainer._member_dims()):
            g = torch.randn_like(t)
            shape = [1] * g.dim()
            shape[d] = -1
            grads.append(g * scales.view(shape))
        before = [g.clone() for g in grads]
        trainer.clip(grads)
        was_clipped = []
        for k in range(3):
            mine = [g.select(d, k).flatten() for g, d in zip(before, trainer._member_dims())]
            flat = torch.cat(mine)
            norm = torch.linalg.vector_norm(flat, ord=p)
            expected = flat * (3.0 / norm) if norm > 3.0 else flat
            was_clipped.append(float(norm > 3.0))
            got = torch.cat([g.select(d, k).flatten() for g, d in zip(grads, trainer._member_dims())])
            torch.testing.assert_close(got, expected)
            assert torch.linalg.vector_norm(got, ord=p) <= 3.0 * (1 + 1e-5)
        assert was_clipped[2] == 1.0 and (mode == "l1" or was_clipped[0] == 0.0)  # the case mix holds
        assert trainer.clipping.count.tolist() == was_clipped


def test_clipping_by_value(sample: Dataset, tiny_config: RunConfig) -> None:
    trainer = Trainer(tiny_config.replace(clip="value", clip_threshold=0.1), sample, torch.device("cpu"))
    grads = [torch.randn_like(t) for t in trainer.cohort.parameters()]
    expected = [g.clamp(-0.1, 0.1) for g in grads]
    trainer.clip(grads)
    for g, e in zip(grads, expected):
        torch.testing.assert_close(g, e)
