"""Engine diagnostics against independent computations, and vanishing gradients for real."""

from __future__ import annotations

import json

import torch
from actlab.engine import ACTIVATIONS, RunConfig, run, schema
from actlab.engine.activation_ops import torch_ops
from actlab.engine.data import Dataset
from actlab.engine.events import Diagnostics, Event, MemberDiagnostics, from_dict
from actlab.engine.lockstep import Trainer
from actlab.engine.model import reference_network


def test_probe_matches_a_hand_made_network(sample: Dataset, tiny_config: RunConfig) -> None:
    config = tiny_config.replace(activations=("sigmoid", "relu"), depth=2, width=8)
    trainer = Trainer(config, sample, torch.device("cpu"))
    gen = torch.Generator().manual_seed(7)
    layers = trainer.cohort.layers
    with torch.no_grad():
        # known weights: big first-layer weights (sigmoid saturates), and three ReLU units
        # of layer 1 with a bias no input can overcome (dead on every sample)
        layers[0].weight.copy_(torch.randn(layers[0].weight.shape, generator=gen) * 0.3)
        layers[0].bias.zero_()
        layers[0].bias[1, :3] = -1e3
        for layer in layers[1:]:
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen) * 0.5)
            layer.bias.copy_(torch.randn(layer.bias.shape, generator=gen) * 0.1)
    got = trainer.diagnostics()
    x, y = trainer.probe_x, trainer.probe_y
    for k, name in enumerate(config.activations):
        act = ACTIVATIONS[name]
        weights = [(layer.weight_of(k).t().clone(), layer.bias[k].clone()) for layer in layers]
        net = reference_network(name, trainer.sizes, weights)
        # independent forward: each hidden layer's z, and f'(z) by autograd
        h = x
        for i, (w, b) in enumerate(weights[:-1]):
            z = (h @ w.t() + b).requires_grad_(True)
            a = torch_ops(act).fn(z)
            (d,) = torch.autograd.grad(a.sum(), z)
            layer = got[k]["layers"][i]
            if act.saturating:
                expected = (d < 0.01 * act.max_derivative).float().mean().item()
                assert abs(layer["saturated_fraction"] - expected) < 1e-6
            else:
                assert layer["saturated_fraction"] is None
            if act.can_die:
                expected_dead = (d == 0).all(dim=0).float().mean().item()
                assert abs(layer["dead_fraction"] - expected_dead) < 1e-6
            else:
                assert layer["dead_fraction"] is None
            assert abs(layer["activation_mean"] - a.mean().item()) < 1e-5
            assert abs(sum(layer["preact_hist"]) - 1.0) < 1e-4
            h = a.detach()
        # independent gradients: autograd through torch.nn
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        linears = [m for m in net if isinstance(m, torch.nn.Linear)]
        for i, lin in enumerate(linears[:-1]):
            expected = lin.weight.grad.norm().item()
            assert abs(got[k]["layers"][i]["grad_norm"] - expected) <= 1e-4 * expected + 1e-9
        out_expected = linears[-1].weight.grad.norm().item()
        assert abs(got[k]["output_grad_norm"] - out_expected) <= 1e-4 * out_expected
    # the hand-made cases really are what they were made to be
    assert got[1]["layers"][0]["dead_fraction"] == 3 / 8
    assert got[0]["layers"][0]["saturated_fraction"] > 0.05


def test_deep_sigmoid_gradients_vanish_and_relu_ones_do_not(sample: Dataset, tiny_config: RunConfig) -> None:
    """8 hidden layers, real short training: sigmoid's first layer gets a gradient orders of
    magnitude below its last layer's; ReLU's stays within an order of magnitude."""
    config = tiny_config.replace(
        activations=("sigmoid", "relu"), depth=8, width=64, max_iterations=30, diagnostics_every=30
    )
    events: list[Event] = []
    run(config, events.append, data=sample)
    last = [e for e in events if isinstance(e, Diagnostics)][-1]
    ratios = []
    for member in last.members:
        assert member is not None
        norms = [layer["grad_norm"] for layer in member["layers"]]
        ratios.append(norms[0] / norms[-1])
    sigmoid_ratio, relu_ratio = ratios
    assert sigmoid_ratio < 1e-3, sigmoid_ratio
    assert relu_ratio > 0.1, relu_ratio


def test_diagnostics_are_stored_as_their_typed_dicts(sample: Dataset, tiny_config: RunConfig) -> None:
    """What the engine reports is what a reader checks it against (MemberDiagnostics), with the
    keys in the order events.jsonl has always had: a prelu member's slopes, clipping's report."""
    config = tiny_config.replace(activations=("sigmoid", "prelu"), clip="l2", clip_threshold=0.5)
    events: list[Event] = []
    run(config, events.append, data=sample)
    probes = [e for e in events if isinstance(e, Diagnostics)]
    assert probes
    for event in probes:
        stored = json.loads(json.dumps(event.to_dict()))
        assert from_dict(stored) == event
        assert schema.mismatch(stored["members"], list[MemberDiagnostics | None], "members") is None
        sigmoid, prelu = event.members
        assert sigmoid is not None and prelu is not None
        assert list(sigmoid) == ["layers", "output_grad_norm", "clipping"]
        assert list(prelu) == ["layers", "output_grad_norm", "clipping", "prelu_slopes"]
        assert list(sigmoid["layers"][0]) == [
            "saturated_fraction",
            "dead_fraction",
            "activation_mean",
            "activation_std",
            "preact_hist",
            "grad_norm",
            "sample_grad_norm",
        ]
        assert len(prelu.get("prelu_slopes", [])) == config.depth
        clipping = sigmoid["clipping"]
        if event.iteration == 0:  # before the first step: nothing was clipped or not
            assert clipping is None
            continue
        assert clipping is not None and clipping["threshold"] == 0.5
        assert len(sigmoid["layers"][0]["preact_hist"]) == len(event.hist_edges) - 1
