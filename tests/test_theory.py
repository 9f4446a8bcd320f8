"""Theory beside measurement: the gradient ratio mean-field theory predicts at initialization
against the one the iteration-0 diagnostics probe measures, and `--batch --theory`."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from actlab.engine import RunConfig
from actlab.engine.control import Control
from actlab.engine.data import Dataset
from actlab.engine.diagnostics import probe_indices
from actlab.engine.events import Diagnostics, Event, RunStarted
from actlab.engine.experiments.theory import theory_rows
from actlab.engine.lockstep import Trainer
from actlab.engine.meanfield import critical_sigma_w2, depth_curve
from actlab.engine.model import reference_network
from actlab.engine.train import run
from actlab.tui.cli import main

WIDTH = 512
# tanh at sigma_b^2 = 0.05 (Schoenholz et al.'s slice of the phase diagram): ordered at 1.0
# (chi_1 = 0.76, 6 xi_c = 22 layers), critical at 1.76 (the chi_1 = 1 line passes 1.761), chaotic
# at 3.0 (chi_1 = 1.23: gradients grow 25x over 32 layers). relu at He init: critical by design.
TANH = [{"init": "gaussian", "sigma_w2": w2, "sigma_b2": 0.05} for w2 in (1.0, 1.76, 3.0)]


def _at_initialization(
    config: RunConfig, data: Dataset, variants: list | None
) -> tuple[RunStarted, Diagnostics]:
    """The run's start and its diagnostics at iteration 0: the run is stopped there, before
    its first step (the probe is what `Comparison.run` emits first)."""
    control = Control()
    seen: list[Event] = []

    def listen(event: Event) -> None:
        seen.append(event)
        if isinstance(event, Diagnostics):
            control.stop()

    summary = run(config, listen, control, data=data, variants=variants)
    assert summary.status == "stopped" and summary.iterations == 0
    started = next(e for e in seen if isinstance(e, RunStarted))
    probes = [e for e in seen if isinstance(e, Diagnostics)]
    assert [p.iteration for p in probes] == [0]
    return started, probes[0]


@pytest.mark.parametrize("depth", [4, 8, 32])
def test_predicted_and_measured_gradient_ratios_agree_within_a_factor_2(
    depth: int, sample: Dataset, tiny_config: RunConfig
) -> None:
    """|grad W_1| / |grad W_L| before the first step, each probe image's own gradient (rms over
    the 256 images) against meanfield_mlp's prediction from the input's mean square, at width 512:
    tanh in the ordered, critical and chaotic phase, relu at He init."""
    m2 = float(sample.train_x[probe_indices(len(sample.train_x))].pow(2).mean())
    base = tiny_config.replace(depth=depth, width=WIDTH, diagnostics_every=1)
    for config, variants in (
        (base.replace(activations=("tanh",)), TANH),
        (base.replace(activations=("relu",), init="kaiming_normal"), None),
    ):
        started, probe = _at_initialization(config, sample, variants)
        settings = (started.cohort or {}).get("member_settings")
        rows = theory_rows(
            config, members=started.members, member_settings=settings, diagnostics=probe, input_mean_square=m2
        )
        for row in rows:
            assert row.mean_field is not None and row.predicted_ratio is not None and row.quotient is not None
            where = (
                f"{row.activation} at ({row.mean_field.sigma_w2}, {row.mean_field.sigma_b2}), depth {depth}"
            )
            assert 0.5 < row.quotient < 2.0, (
                f"{where}: measured {row.measured_ratio}, predicted {row.predicted_ratio}"
            )
    phases = [r.mean_field.phase for r in rows if r.mean_field is not None]
    assert phases == ["critical"]  # relu at He init


def test_the_three_tanh_settings_are_in_the_phases_they_stand_for() -> None:
    phases = []
    for setting in TANH:
        row = theory_rows(RunConfig(activations=("tanh",), depth=8, width=WIDTH, **setting))[0]
        assert row.mean_field is not None
        phases.append(row.mean_field.phase)
    assert phases == ["ordered", "critical", "chaotic"]
    w2 = critical_sigma_w2("tanh", 0.05)
    assert w2 is not None and abs(w2 - 1.76) < 0.01


def test_depth_curve_gives_the_multiples_of_xi_c() -> None:
    curve = depth_curve("tanh", [1.0, 1.3, 1.5, 1.76, 2.5], 0.05, multiples=(1, 6))
    six = [p.depths[1] for p in curve]
    assert [round(d, 1) for d in six[:3]] == [21.8, 47.0, 94.7]  # docs/theory.md, issue 22
    assert six[3] > 1000 and round(six[4]) == 71  # criticality, then the chaotic side
    assert all(p.depths[0] * 6 == pytest.approx(p.depths[1]) for p in curve)
    assert curve[0].to_json()["multiples"] == [1.0, 6.0]


def test_theory_rows_need_no_pytorch_and_say_why_a_member_has_none() -> None:
    code = textwrap.dedent(
        """
        import json, sys
        from actlab.engine import RunConfig
        from actlab.engine.experiments.theory import theory_rows, theory_text
        members = ("tanh", "relu", "./nowhere.py:f")
        config = RunConfig(activations=members, depth=4, width=64, init="recommended")
        rows = theory_rows(config)
        assert "torch" not in sys.modules
        print(json.dumps([r.to_json() for r in rows]))
        print(theory_text(rows, "table"), file=sys.stderr)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    tanh, relu, custom = json.loads(done.stdout)
    assert tanh["init_note"].startswith("recommended for tanh: xavier_uniform")
    assert tanh["sigma_w2"] == 1.0 and tanh["first_layer_sigma_w2"] == pytest.approx(2 * 784 / (784 + 64))
    assert relu["sigma_w2"] == 2.0 and relu["phase"] == "critical" and relu["xi_c"] is None
    assert tanh["measured_ratio"] is None and tanh["predicted_ratio"] > 0
    assert custom["phase"] == "unknown" and "its curves were not measured" in custom["reason"]
    assert "./nowhere.py:f" in done.stderr


CUSTOM = "import torch\n\ndef my_tanh(z):\n    return torch.tanh(z)\n"


@pytest.mark.parametrize("fmt", ["json", "csv", "md", "table"])
def test_batch_theory_prints_after_the_table_and_writes_theory_json(
    fmt: str,
    tmp_path: Path,
    cache_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "acts.py").write_text(CUSTOM)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    args = [
        "--batch",
        "-q",
        "-a",
        "tanh,./acts.py:my_tanh",
        "--depth",
        "3",
        "--width",
        "32",
        "--init",
        "gaussian",
    ]
    args += ["--sigma-w2", "1.76", "--sigma-b2", "0.05", "--max-iterations", "5", "--eval-every", "5"]
    args += ["-d", "sample", "--cache-dir", str(cache_dir), "--theory", "--format", fmt, "-o", str(out)]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    printed = capsys.readouterr().out
    assert exit_.value.code == 0, printed
    stored = json.loads((out / "theory.json").read_text())
    builtin, custom = stored
    assert builtin["activation"] == "tanh" and custom["activation"] == "./acts.py:my_tanh"
    for row in stored:
        assert row["sigma_w2"] == 1.76 and row["sigma_b2"] == 0.05 and row["phase"] == "critical"
        assert row["predicted_ratio"] > 0 and row["measured_ratio"] > 0
        for key in ("chi_1", "q_star", "xi_c", "trainable_depth", "measured_over_predicted"):
            assert isinstance(row[key], float), key
    # the custom function, known only from its measured samples, gets tanh's figures
    assert custom["chi_1"] == pytest.approx(builtin["chi_1"], abs=1e-3)
    assert custom["measured_ratio"] == pytest.approx(builtin["measured_ratio"], rel=1e-4)
    if fmt == "json":
        printed_json = json.loads(printed)
        assert list(printed_json) == ["summary", "theory"] and printed_json["theory"] == stored
        assert printed_json["summary"]["members"][0]["activation"] == "tanh"
    elif fmt == "csv":
        summary_block, theory_block = printed.rstrip("\n").split("\n\n")
        assert summary_block.startswith("activation,status")
        assert theory_block.splitlines()[0].startswith("activation,init,sigma_w2,sigma_b2,q_star,chi_1,phase")
        assert len(theory_block.splitlines()) == 3
    else:
        header = (
            "| member | init (sigma_w^2, sigma_b^2) |" if fmt == "md" else "   init (sigma_w^2, sigma_b^2)   "
        )
        assert header in printed and "gaussian (1.76, 0.05)" in printed and "ratio predicted" in printed


def test_theory_goes_with_one_run(capsys: pytest.CaptureFixture[str]) -> None:
    for extra in (["--seeds", "2"], ["--sweep", "lr=0.1,0.2"], ["--preset", "trainability"]):
        with pytest.raises(SystemExit) as exit_:
            main(["--batch", "--theory", "-d", "sample", *extra])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and err.count("\n") == 1
        assert err.startswith("actlab-tui: error: --theory goes with a single run"), err


def test_the_iteration_0_probe_needs_no_step(sample: Dataset, tiny_config: RunConfig) -> None:
    """Diagnostics at iteration 0 are the network as initialized: its gradients there are those of
    the initial weights (no step taken), and clipping has nothing to report yet."""
    config = tiny_config.replace(activations=("tanh",), clip="l2", diagnostics_every=20)
    events: list[Event] = []
    run(config, events.append, data=sample)
    probes = [e for e in events if isinstance(e, Diagnostics)]
    assert [p.iteration for p in probes] == [0, 20, 40]
    first = probes[0].members[0]
    assert first is not None and first.get("clipping") is None
    later = probes[1].members[0]
    assert later is not None and later.get("clipping") is not None
    assert all(math.isfinite(layer.get("sample_grad_norm") or math.nan) for layer in first["layers"])


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_sample_grad_norm_is_the_rms_of_each_images_own_gradient(
    loss: str, sample: Dataset, tiny_config: RunConfig
) -> None:
    """Against autograd through torch.nn, one probe image at a time: the root mean square over
    the probe batch of |d loss_s / d W_l|, loss_s that image's own loss."""
    config = tiny_config.replace(activations=("tanh", "relu"), depth=3, width=16, loss=loss)
    trainer = Trainer(config, sample, torch.device("cpu"))
    got = trainer.diagnostics()
    x, y = trainer.probe_x, trainer.probe_y
    for k, name in enumerate(config.activations):
        weights = [(layer.weight_of(k).t().clone(), layer.bias[k].clone()) for layer in trainer.cohort.layers]
        net = reference_network(name, trainer.sizes, weights)
        linears = [m for m in net if isinstance(m, torch.nn.Linear)]
        squares = torch.zeros(len(linears), dtype=torch.float64)
        for s in range(len(x)):
            logits = net(x[s : s + 1])
            if loss == "cross_entropy":
                own = torch.nn.functional.cross_entropy(logits, y[s : s + 1])
            else:
                own = torch.nn.functional.mse_loss(torch.softmax(logits, -1), torch.eye(10)[y[s : s + 1]])
            grads = torch.autograd.grad(own, [lin.weight for lin in linears])
            squares += torch.tensor([g.double().pow(2).sum().item() for g in grads])
        expected = (squares / len(x)).sqrt()
        for i, layer in enumerate(got[k]["layers"]):
            assert layer.get("sample_grad_norm") == pytest.approx(expected[i].item(), rel=1e-4)
