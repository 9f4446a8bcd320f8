"""Settings that would overflow, repeat, conflict or not fit: one line each, before training."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from actlab.engine import config as config_mod
from actlab.engine.config import ConfigError, RunConfig, network_memory_bytes
from actlab.engine.data import DataError, load
from actlab.tui.cli import main


@pytest.mark.parametrize(
    "changes,message",
    [
        (dict(lr=1e39), "lr 1e+39: must be at most 3.4e38 (training runs in float32)"),
        (dict(weight_decay=1e39), "weight_decay 1e+39: must be at most 3.4e38"),
        (dict(l1=3.5e38), "l1 3.5e+38: must be at most 3.4e38"),
        (dict(clip="l2", clip_threshold=1e300), "clip_threshold 1e+300: must be at most"),
        (dict(lr=1e-50), "lr 1e-50: rounds to 0 in float32"),
        (dict(thresholds=(0.8, 0.9, 0.8)), "thresholds 0.8, 0.9, 0.8: each may appear once"),
        (dict(seed=2**63), "seed 9223372036854775808: must be an integer in [0, 2^62]"),
    ],
)
def test_overflowing_and_repeated_values_are_refused(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        RunConfig(**changes).validate()
    assert message in str(info.value)


def test_the_largest_float32_values_are_accepted() -> None:
    RunConfig(lr=3.4e38, weight_decay=1e-45, l1=8e-46, seed=2**62).validate()


def test_a_network_too_large_for_memory_is_refused_with_its_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config_mod, "host_memory_bytes", lambda: 16 * 10**9)
    with pytest.raises(ConfigError) as info:
        RunConfig(depth=50, width=100_000).validate()
    assert str(info.value) == (
        "network of depth 50 x width 100000 (3 members, batch 64) needs ~17,655 GB, "
        "more than the 16 GB this machine has"
    )
    RunConfig(depth=8, width=1024).validate()  # ~0.3 GB: fine


def test_the_memory_estimate_counts_weights_gradients_optimizer_and_batch() -> None:
    cfg = RunConfig(activations=("relu",), depth=1, width=10, batch_size=2)
    params = 785 * 10 + 11 * 10
    assert network_memory_bytes(cfg) == 4 * (3 * params + 3 * 2 * 20)
    adam = cfg.replace(optimizer="adam", activations=("relu", "tanh"))
    assert network_memory_bytes(adam) == 2 * 4 * (4 * params + 3 * 2 * 20)


def test_a_batch_larger_than_the_training_split_is_refused_at_load(cache_dir: Path) -> None:
    cfg = RunConfig(dataset="sample", cache_dir=str(cache_dir), batch_size=5000)
    with pytest.raises(DataError, match=r"batch_size 5000 is larger than the training split \(4000 images\)"):
        load(cfg, torch.device("cpu"))


@pytest.mark.parametrize(
    "args,message",
    [
        (["--lr", "1e39"], "lr 1e+39: must be at most 3.4e38"),
        (["--thresholds", "0.9,0.9"], "thresholds 0.9, 0.9: each may appear once"),
        (["-d", "mnist", "--data-dir", "/some/where"], "dataset 'mnist' with data directory '/some/where'"),
        (["--depth", "50", "--width", "10000000"], "network of depth 50 x width 10000000"),
    ],
)
def test_the_cli_refuses_with_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as info:
        main(["--batch", "-q", "--out", str(out), *args])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and message in err, err
    assert not out.exists()


def test_data_dir_alone_still_means_idx() -> None:
    from actlab.tui.options import build_config

    assert build_config(None, {"data_dir": "/x"}).dataset == "idx"
    assert build_config("seed", {"data_dir": "/x"}).dataset == "idx"


def test_on_a_gpu_the_network_is_checked_against_its_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    from actlab.engine.data import check_fits

    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (10**9, 8 * 10**9))
    cfg = RunConfig(depth=4, width=20_000)  # ~44 GB: fits a 64 GB host, not an 8 GB GPU
    monkeypatch.setattr("actlab.engine.data.host_memory_bytes", lambda: 64 * 10**9)
    check_fits(cfg, 4000, 784, torch.device("cpu"))
    with pytest.raises(
        DataError, match=r"network of depth 4 x width 20000 .* needs ~44 GB, more than the 8 GB GPU cuda has"
    ):
        check_fits(cfg, 4000, 784, torch.device("cuda"))
