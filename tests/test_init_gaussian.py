"""--init gaussian --sigma-w2 X --sigma-b2 Y: weights N(0, sigma_w2 / fan_in) and biases
N(0, sigma_b2) in every layer; members differing only in sigma scale the same draws (paired);
sigma is a per-member setting, so a sweep over it is one cohort; the other inits are untouched."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from actlab.engine import ConfigError, RunConfig
from actlab.engine.data import Dataset
from actlab.engine.experiments.sweep_plan import Plan, SweepError, parse_sweep
from actlab.engine.lockstep import Trainer
from actlab.engine.model import initial_parameters
from actlab.tui.cli import main


def test_empirical_variances_are_sigma_w2_over_fan_in_and_sigma_b2() -> None:
    sizes = [784, 2048, 2048, 10]
    params = initial_parameters(sizes, "gaussian", 3, sigma_w2=1.76, sigma_b2=0.05)
    for (w, b), fan_in in zip(params[:-1], sizes[:-2]):
        # 1.6M and 4.2M weights: a standard error of 0.1% on the variance, 1% allowed; 2048
        # biases: 3% and 10%; the output layer's 10 biases are too few to say more than "drawn"
        assert w.var().item() == pytest.approx(1.76 / fan_in, rel=0.01)
        assert abs(w.mean().item()) < 4 * math.sqrt(1.76 / fan_in / w.numel())
        assert b.var().item() == pytest.approx(0.05, rel=0.1)
    w_out, b_out = params[-1]
    # 20,480 weights: a standard error of 1%
    assert w_out.shape == (10, 2048) and w_out.var().item() == pytest.approx(1.76 / 2048, rel=0.05)
    assert b_out.abs().max().item() > 0  # the output layer's biases are drawn too


def test_members_differing_in_sigma_scale_the_same_draws(sample: Dataset, tiny_config: RunConfig) -> None:
    config = tiny_config.replace(activations=("tanh", "relu"), init="gaussian")
    variants: list[dict[str, float | int | str]] = [
        {"sigma_w2": 1.0, "sigma_b2": 0.05},
        {"sigma_w2": 4.0, "sigma_b2": 0.2},
        {"sigma_w2": 1.0, "sigma_b2": 0.05, "seed": 1},
    ]
    cohort = Trainer(config, sample, torch.device("cpu"), variants).cohort
    for layer in cohort.layers:
        # the same seed and sigma: the same tensors for both activations (fair comparison)
        assert torch.equal(layer.weight_of(0), layer.weight_of(1))
        assert torch.equal(layer.bias[2], layer.bias[3])
        # sigma_w2 x4, sigma_b2 x4: the same normal draws, twice the size
        torch.testing.assert_close(layer.weight_of(2), 2 * layer.weight_of(0), rtol=1e-6, atol=0)
        torch.testing.assert_close(layer.bias[2], 2 * layer.bias[0], rtol=1e-6, atol=0)
        assert not torch.equal(layer.weight_of(4), layer.weight_of(0))  # another seed, other draws


def test_the_other_inits_draw_what_they_drew_before(sample: Dataset, tiny_config: RunConfig) -> None:
    """The default init, bit for bit, against torch.nn.Linear's formula drawn from the seed's
    generator (weights, then bias, layer by layer), and the same distribution as torch.nn.init's
    kaiming_uniform_(a=sqrt 5); a sigma given with another init changes nothing."""
    trainer = Trainer(tiny_config.replace(sigma_w2=3.0, sigma_b2=0.5), sample, torch.device("cpu"))
    gen = torch.Generator().manual_seed(tiny_config.seed)
    check = torch.Generator().manual_seed(tiny_config.seed)
    for i, layer in enumerate(trainer.cohort.layers):
        fan_out, fan_in = trainer.sizes[i + 1], trainer.sizes[i]
        bound = 1.0 / math.sqrt(fan_in)
        w = (torch.rand((fan_out, fan_in), generator=gen) * 2 - 1) * bound
        b = (torch.rand(fan_out, generator=gen) * 2 - 1) * bound
        for k in range(trainer.cohort.size):
            assert torch.equal(layer.weight_of(k).t(), w)
            assert torch.equal(layer.bias[k], b)
        ref = torch.empty(fan_out, fan_in)
        torch.nn.init.kaiming_uniform_(ref, a=math.sqrt(5), generator=check)
        torch.testing.assert_close(ref, w, rtol=0, atol=1e-6)
        torch.rand(fan_out, generator=check)  # the bias's draws, to stay in step
    for scheme in ("xavier_normal", "kaiming_uniform", "orthogonal"):
        assert all(
            torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
            for a, b in zip(
                initial_parameters(trainer.sizes, scheme, 5),
                initial_parameters(trainer.sizes, scheme, 5, sigma_w2=9.0, sigma_b2=1.0),
            )
        )


def test_sigma_settings_are_checked() -> None:
    for bad, message in (
        (dict(sigma_w2=0.0), "sigma_w2 0.0: must be a number > 0"),
        (dict(sigma_w2=math.inf), "sigma_w2 inf: must be a number > 0"),
        (dict(sigma_b2=-0.1), "sigma_b2 -0.1: must be a number >= 0"),
        (dict(sigma_b2=math.nan), "sigma_b2 nan: must be a number >= 0"),
    ):
        with pytest.raises(ConfigError, match=message):
            RunConfig(init="gaussian", **bad).validate()
    RunConfig(init="kaiming_normal", sigma_w2=2.5).validate()  # allowed, and ignored (the help says so)


def test_a_sweep_over_sigma_w2_is_one_cohort_that_trains(tmp_path: Path, small: RunConfig) -> None:
    base = small.replace(activations=("tanh",), init="gaussian", sigma_b2=0.05)
    plan = Plan.build(base, parse_sweep("sigma_w2=1,1.76,3 sigma_b2=0.05,0.1", base), [0])
    assert len(plan.jobs) == 1 and len(plan.jobs[0].points) == 6
    with pytest.raises(SweepError, match="sweep axis sigma_w2: no effect without --init gaussian"):
        Plan.build(small, parse_sweep("sigma_w2=1,2", small), [0])
    out = tmp_path / "sweep"
    args = ["--batch", "-q", "-a", "tanh", "--init", "gaussian", "--sigma-b2", "0.05", "--width", "16"]
    args += [
        "--max-iterations",
        "10",
        "--eval-every",
        "5",
        "-d",
        "sample",
        "--cache-dir",
        str(small.cache_dir),
    ]
    args += ["--sweep", "sigma_w2=1,3", "--json", "-o", str(out)]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 0
    plan_json = json.loads((out / "sweep.json").read_text())
    assert len(plan_json["jobs"]) == 1
    finals = {}
    for point in ("sigma_w2=1", "sigma_w2=3"):
        summary = json.loads((out / point / "seed-0" / "summary.json").read_text())
        assert summary["status"] == "done" and summary["config"]["sigma_w2"] == float(point[-1])
        finals[point] = summary["members"][0]["final_accuracy"]
    assert all(0.0 < a <= 1.0 for a in finals.values()) and finals["sigma_w2=1"] != finals["sigma_w2=3"]
