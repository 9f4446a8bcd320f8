"""Member specs: parameters, the learned PReLU slope, the user's own functions (autograd or a
given derivative), entry points, the checks before a run, and each member's cost alone."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
from actlab.engine import RunConfig, schema
from actlab.engine.activation_lookup import builtin, lookup
from actlab.engine.activation_ops import torch_ops
from actlab.engine.activations import SpecError, entry_points, known_names, member_spec
from actlab.engine.custom import describe, measure, resolve
from actlab.engine.data import Dataset
from actlab.engine.events import ActivationDescription, EventError, RunStarted, from_dict
from actlab.engine.lockstep import Trainer
from actlab.engine.member_costs import time_alone
from actlab.engine.train import run
from actlab.tui.cli import main
from references import reference_run

STEPS = 20
HERE = Path(__file__).parent
ACTS = HERE / "fixtures" / "acts.py"

USER_CODE = """
import torch

def bent_identity(z):
    return (torch.sqrt(z * z + 1) - 1) / 2 + z

def square_plus(z):
    return 0.5 * (z + torch.sqrt(z * z + 4))

def square_plus_derivative(z):
    return 0.5 * (1 + z / torch.sqrt(z * z + 4))

def cubic(z):
    return z + 0.1 * z ** 3 / (1 + z * z)

cubic.derivative = lambda z: 1 + 0.1 * (3 * z * z + z ** 4) / (1 + z * z) ** 2

def slow(z):
    for _ in range(60):
        z = torch.sin(z) + z * 0.5
    return z

NOT_CALLABLE = 3

def softmax(z):
    return torch.softmax(z, dim=-1)

def total(z):
    return z.sum()

def nan_far(z):
    return torch.where(z.abs() > 40, torch.full_like(z, float("nan")), z)

def via_numpy(z):
    return torch.from_numpy(z.detach().numpy() * 2.0)

def to_double(z):
    return z.double()

def wrong(z):
    return torch.tanh(z)

wrong.derivative = lambda z: torch.ones_like(z)

def raises(z):
    raise RuntimeError("boom")
"""


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding the user's acts.py (file specs are relative to it)."""
    (tmp_path / "acts.py").write_text(USER_CODE)
    (tmp_path / "broken.py").write_text("def f(z):\n    return z +\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- specs -----------------------------------------------------------------------------------


def test_specs_are_canonical() -> None:
    assert member_spec("elu(alpha=0.5)").name == "elu(0.5)"
    assert member_spec("leaky_relu(0.1)").name == "leaky_relu"  # the default is the plain name
    assert member_spec(" leaky_relu( 0.01 ) ").name == "leaky_relu(0.01)"
    assert member_spec("softplus(beta=2)").name == "softplus(2)"
    assert member_spec("./acts.py:bent").kind == "custom"
    assert member_spec("mypkg.acts:bent").target == "mypkg.acts:bent"
    config = RunConfig(activations=("leaky_relu(0.01)", "leaky_relu", "elu(alpha=0.5)"))
    assert config.activations == ("leaky_relu(0.01)", "leaky_relu", "elu(0.5)")
    with pytest.raises(Exception, match="each may appear once"):
        RunConfig(activations=("leaky_relu(0.1)", "leaky_relu")).validate()


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("leaky_relu(2)", "slope 2 must be in [0, 1)"),
        ("elu(beta=1)", "elu has no parameter 'beta'; it takes alpha"),
        ("elu(alpha=x)", "alpha 'x' is not a number"),
        ("silu(beta=0)", "beta 0 must be in (0, 100]"),
        ("relu(1)", "relu takes no parameters"),
        ("elu(1, 2)", "elu takes 1 parameter(s)"),
        ("softmaxx", "unknown activation 'softmaxx'"),
        ("a-b:c", "neither a module name nor a .py file"),
    ],
)
def test_bad_parameters_name_the_spec(spec: str, reason: str) -> None:
    with pytest.raises(SpecError, match=None) as info:
        member_spec(spec)
    assert reason in str(info.value) and "\n" not in str(info.value)


PARAMETRIC = [
    "leaky_relu(0.01)",
    "leaky_relu(0)",
    "elu(0.5)",
    "elu(2)",
    "silu(1.5)",
    "softplus(2)",
    "prelu(0.1)",
]


@pytest.mark.parametrize("spec", PARAMETRIC)
def test_parametric_derivative_and_curves(spec: str) -> None:
    act = builtin(spec)
    ops = torch_ops(act)
    z = torch.linspace(-12, 12, 2001, dtype=torch.float64)
    z = z[z.abs() > 1e-9].requires_grad_(True)
    a = ops.fn(z)
    (auto,) = torch.autograd.grad(a.sum(), z)
    torch.testing.assert_close(ops.derivative(z.detach(), a.detach()), auto, rtol=1e-6, atol=1e-9)
    dh = torch.randn_like(a)
    torch.testing.assert_close(ops.backward(dh, z.detach(), a.detach()), dh * auto, rtol=1e-6, atol=1e-9)
    zn = z.detach().numpy()
    torch.testing.assert_close(torch.from_numpy(act.numpy_fn(zn)), a.detach(), rtol=1e-6, atol=1e-6)
    dn = act.numpy_derivative(zn, act.numpy_fn(zn))
    torch.testing.assert_close(torch.from_numpy(dn), auto, rtol=1e-6, atol=1e-6)
    dense = torch.linspace(-30, 30, 300_001, dtype=torch.float64)
    top = ops.derivative(dense, ops.fn(dense)).max().item()
    assert top == pytest.approx(act.max_derivative, rel=1e-3)


# --- parity against torch.nn -----------------------------------------------------------------


def assert_member_matches(trainer: Trainer, k: int, ref: torch.nn.Sequential) -> None:
    linears = [m for m in ref if isinstance(m, torch.nn.Linear)]
    for i, lin in enumerate(linears):
        layer = trainer.cohort.layers[i]
        torch.testing.assert_close(layer.weight_of(k).t(), lin.weight.detach(), rtol=1e-4, atol=2e-5)
        torch.testing.assert_close(layer.bias[k], lin.bias.detach(), rtol=1e-4, atol=2e-5)
    prelus = [m for m in ref if isinstance(m, torch.nn.PReLU)]
    if prelus:
        assert trainer.cohort.slopes is not None
        learned = torch.cat([m.weight.detach() for m in prelus])
        torch.testing.assert_close(trainer.cohort.slopes[k], learned, rtol=1e-4, atol=2e-5)


CASES = [
    dict(),
    dict(optimizer="adam", lr=1e-3, weight_decay=1e-3),
    dict(l1=1e-4, clip="l2", clip_threshold=0.5, weight_decay=1e-3),
]


@pytest.mark.parametrize("changes", CASES, ids=["sgd", "adam+l2", "l1+l2+clip"])
def test_parametric_and_prelu_members_match_torch_nn(
    sample: Dataset, tiny_config: RunConfig, changes: dict[str, Any]
) -> None:
    """leaky_relu(0.01), elu(0.5) and prelu (torch.nn.PReLU per hidden layer, its slope
    optimized, decayed and clipped with its member) beside relu, against torch.nn alone."""
    specs = ("relu", "leaky_relu(0.01)", "prelu", "elu(0.5)", "silu(1.5)")
    config = tiny_config.replace(activations=specs, **changes)
    trainer = Trainer(config, sample, torch.device("cpu"))
    batches = trainer.batches()[:STEPS]
    for idx in batches:
        trainer.step(idx)
    for k, spec in enumerate(specs):
        assert_member_matches(trainer, k, reference_run(config, sample, spec, batches))
    assert trainer.cohort.slopes is not None
    assert not torch.equal(trainer.cohort.slopes[2], torch.full((config.depth,), 0.25))  # it learned
    assert torch.equal(trainer.cohort.slopes[0], torch.zeros(config.depth))  # others have none


@pytest.mark.parametrize("spec", ["./acts.py:bent_identity", "./acts.py:square_plus", "./acts.py:cubic"])
def test_custom_member_matches_torch_nn(
    sample: Dataset, tiny_config: RunConfig, user_dir: Path, spec: str
) -> None:
    """The user's function trains like it does in torch.nn with autograd, whether its
    derivative comes from autograd (bent_identity), a function beside it (square_plus) or
    an attribute (cubic)."""
    config = tiny_config.replace(activations=("relu", spec), optimizer="adam", lr=1e-3)
    trainer = Trainer(config, sample, torch.device("cpu"))
    batches = trainer.batches()[:STEPS]
    for idx in batches:
        trainer.step(idx)
    assert_member_matches(trainer, 1, reference_run(config, sample, spec, batches))
    diag = trainer.diagnostics()[1]
    assert len(diag["layers"]) == config.depth


def test_custom_functions_reach_torch_ops_through_resolve(user_dir: Path) -> None:
    """activation_ops never imports custom: a custom activation's functions are there once
    custom resolved its spec (it registers them), and asking before says so in one line."""
    stray = dataclasses.replace(builtin("relu"), name="./acts.py:never_resolved", kind="custom")
    with pytest.raises(LookupError, match=r"'\./acts\.py:never_resolved'.*resolve"):
        torch_ops(stray)
    ops = torch_ops(resolve("./acts.py:bent_identity"))
    z = torch.linspace(-3, 3, 7, dtype=torch.float64)
    torch.testing.assert_close(ops.fn(z), (torch.sqrt(z * z + 1) - 1) / 2 + z)


def test_measured_properties_agree_with_the_registry() -> None:
    """The measurement a custom function gets, applied to the registry's own functions."""
    for name in ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "softsign", "identity", "silu"):
        act = builtin(name)
        ops = torch_ops(act)
        got = measure(name, ops.fn, lambda z, ops=ops: ops.derivative(z, ops.fn(z)))
        assert got["saturating"] == act.saturating, name
        assert got["can_die"] == act.can_die, name
        assert got["zero_centred"] == act.zero_centred, name
        assert got["max_derivative"] == pytest.approx(act.max_derivative, rel=2e-3), name
    assert (
        measure("sigmoid", torch.sigmoid, lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z)))["output_range"]
        == "(0, 1)"
    )


def test_custom_description_reaches_torch_free_code(user_dir: Path) -> None:
    act = resolve("./acts.py:bent_identity")
    assert act.kind == "custom" and not act.saturating and not act.can_die and act.monotone
    assert act.output_range == "(-inf, inf)"
    assert lookup("./acts.py:bent_identity") is act  # the UI's look-up knows it now


def test_a_description_is_checked_where_a_run_is_read(user_dir: Path) -> None:
    """custom.describe gives what RunStarted stores (ActivationDescription, keys in their
    order); read back, a damaged one is refused in one line naming the place."""
    d = describe("./acts.py:bent_identity")
    assert list(d) == [
        "name",
        "max_derivative",
        "output_range",
        "zero_centred",
        "saturating",
        "can_die",
        "monotone",
        "z",
        "f",
        "df",
        "formula",
        "note",
        "cost",
    ]
    assert schema.mismatch(json.loads(json.dumps(d)), ActivationDescription, "d") is None
    started = RunStarted(
        config=RunConfig(activations=("relu", "./acts.py:bent_identity")).to_dict(),
        members=["relu", "./acts.py:bent_identity"],
        baseline="relu",
        dataset={"name": "sample", "source": "t", "train_size": 1, "test_size": 1, "notice": None},
        device="cpu",
        eval_every=1,
        diagnostics_every=0,
        iterations_per_epoch=1,
        total_iterations=1,
        custom_activations=[d],
    )
    stored = json.loads(json.dumps(started.to_dict()))
    assert from_dict(stored) == started
    stored["custom_activations"][0]["f"][3] = "x"
    with pytest.raises(
        EventError, match=r"^run_started: custom_activations\[0\]\.f\[3\]: expected a number, got 'x'$"
    ):
        from_dict(stored)
    stored["custom_activations"][0]["f"][3] = 0.5
    del stored["custom_activations"][0]["df"]
    with pytest.raises(EventError, match=r"^run_started: custom_activations\[0\]: missing field 'df'$"):
        from_dict(stored)


def test_the_app_measures_custom_functions_without_torch(user_dir: Path) -> None:
    """The helper process measures; the app's process gets plain data and no PyTorch."""
    code = textwrap.dedent(
        """
        import sys
        from actlab.engine.custom_process import describe
        from actlab.engine.activation_lookup import lookup
        d = describe(["./acts.py:bent_identity"])[0]
        assert lookup("./acts.py:bent_identity").output_range == d["output_range"]
        assert "torch" not in sys.modules, "the UI process imported torch"
        print("ok")
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


# --- entry points ----------------------------------------------------------------------------


def test_entry_points_register_activations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "lab_acts"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "import torch\n\ndef mish(z):\n    return z * torch.tanh(torch.nn.functional.softplus(z))\n"
    )
    dist = tmp_path / "lab_acts-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: lab-acts\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[actlab.activations]\nmish = lab_acts:mish\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    entry_points.cache_clear()
    try:
        assert "mish" in known_names()
        ms = member_spec("mish")
        assert ms.kind == "custom" and ms.entry_point == "mish" and ms.target == "lab_acts:mish"
        act = resolve("mish")
        assert act.kind == "custom" and not act.monotone  # mish dips below zero, then rises
        r = subprocess.run(
            [sys.executable, "-m", "actlab.tui", "--help"],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(tmp_path)},
            timeout=120,
        )
        assert "from installed packages: mish" in " ".join(r.stdout.split())
    finally:
        entry_points.cache_clear()


# --- the checks before a run -----------------------------------------------------------------

BAD_SPECS = [
    ("nosuchmodule_xyz:fn", "cannot import 'nosuchmodule_xyz'"),
    ("./missing.py:fn", "no file './missing.py'"),
    ("./broken.py:f", "importing"),
    ("./acts.py:nothing_here", "has no attribute 'nothing_here'"),
    ("./acts.py:NOT_CALLABLE", "is not callable"),
    ("./acts.py:softmax", "is not elementwise"),
    ("./acts.py:total", "changes the shape"),
    ("./acts.py:to_double", "changes the dtype"),
    ("./acts.py:nan_far", "is not finite (NaN or Inf) at z = -50"),
    ("./acts.py:via_numpy", "is not differentiable"),
    ("./acts.py:wrong", "its derivative disagrees with autograd"),
    ("./acts.py:raises", "raised RuntimeError: boom"),
    ("leaky_relu(2)", "slope 2 must be in [0, 1)"),
    ("elu(beta=1)", "no parameter 'beta'"),
    ("elu(alpha=x)", "is not a number"),
]


@pytest.mark.parametrize(("spec", "reason"), BAD_SPECS, ids=[s for s, _ in BAD_SPECS])
def test_bad_member_is_one_line_exit_2_nothing_written(
    user_dir: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str], spec: str, reason: str
) -> None:
    out = user_dir / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["--batch", "-q", "--out", str(out), "--cache-dir", str(cache_dir), "-a", f"relu,{spec}"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.count("\n") == 1 and err.startswith("actlab-tui: error: "), err
    assert reason in err and (spec in err or member_spec(spec).name in err if "(" not in spec else True), err
    assert not out.exists()


def test_the_app_refuses_a_bad_function_before_it_opens(user_dir: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "actlab.tui", "-a", "relu,./acts.py:softmax"],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 2
    assert r.stderr.strip() == (
        "actlab-tui: error: activation './acts.py:softmax': is not elementwise: an output depends on "
        "other elements or on the tensor's shape (like a softmax or a sum)"
    )


def test_a_member_turning_nan_diverges(
    sample: Dataset, tiny_config: RunConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """z^5 passes the checks (finite on [-50, 50]) but overflows once training pushes z
    further: the member is retired as diverged, the others go on."""
    (tmp_path / "acts.py").write_text("def steep(z):\n    return z ** 5\n")
    monkeypatch.chdir(tmp_path)
    config = tiny_config.replace(activations=("relu", "./acts.py:steep"), lr=0.5)
    summary = run(config, data=sample).to_json()
    steep = summary["members"][1]
    assert steep["status"] == "diverged" and steep["diverged_at"] is not None
    assert summary["members"][0]["status"] == "done"


# --- cost ------------------------------------------------------------------------------------


def test_an_expensive_function_costs_more_alone(
    sample: Dataset, tiny_config: RunConfig, user_dir: Path
) -> None:
    config = tiny_config.replace(activations=("relu", "./acts.py:slow"), width=128, batch_size=64)
    (relu, slow), rounds = time_alone(config, sample, ["relu", "./acts.py:slow"], steps=2)
    assert rounds == 5
    assert slow > 1.5 * relu


def test_every_member_gets_its_epoch_alone(sample: Dataset, tiny_config: RunConfig, user_dir: Path) -> None:
    specs = ("sigmoid", "relu", "leaky_relu(0.01)", "prelu", "./acts.py:slow")
    summary = run(tiny_config.replace(activations=specs, diagnostics_every=10), data=sample).to_json()
    members = {m["activation"]: m for m in summary["members"]}
    assert list(members) == list(specs)
    for m in members.values():
        assert m["epoch_time_alone_s"] > 0 and m["cost_vs_relu"] > 0
    assert members["relu"]["cost_vs_relu"] == 1.0
    assert members["./acts.py:slow"]["epoch_time_alone_s"] > members["relu"]["epoch_time_alone_s"]
    slopes = members["prelu"]["prelu_slopes"]
    assert slopes is not None and len(slopes) == tiny_config.depth
    assert members["relu"]["prelu_slopes"] is None
    cost = summary["cost_measurement"]
    assert cost["reference"] == "relu" and cost["steps"] >= 2 and cost["seconds"] > 0
