"""Data: the bundled sample, IDX directories (gzipped or not) and download fallbacks."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch
from actlab.engine import RunConfig
from actlab.engine import data as data_mod
from actlab.engine.data import DataError, load, load_idx_dir, load_sample, read_idx, write_idx


def test_sample_split_is_stratified_and_fixed(cache_dir: Path) -> None:
    xtr, ytr, xte, yte = load_sample(cache_dir)
    assert xtr.shape == (4000, 784) and xte.shape == (1000, 784)
    assert xtr.dtype == np.uint8 and xtr.max() == 255
    assert np.bincount(yte).tolist() == [100] * 10
    again = load_sample(cache_dir)  # from the cache file this time
    assert all(np.array_equal(a, b) for a, b in zip((xtr, ytr, xte, yte), again))


def write_dir(directory: Path, arrays: tuple, gz: bool) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    xtr, ytr, xte, yte = arrays
    ext = ".gz" if gz else ""
    write_idx(directory / f"train-images-idx3-ubyte{ext}", xtr.reshape(-1, 28, 28))
    write_idx(directory / f"train-labels-idx1-ubyte{ext}", ytr.astype(np.uint8))
    write_idx(directory / f"t10k-images-idx3-ubyte{ext}", xte.reshape(-1, 28, 28))
    write_idx(directory / f"t10k-labels-idx1-ubyte{ext}", yte.astype(np.uint8))


@pytest.mark.parametrize("gz", [True, False])
def test_idx_directory_round_trip(cache_dir: Path, tmp_path: Path, gz: bool) -> None:
    arrays = load_sample(cache_dir)
    write_dir(tmp_path, arrays, gz)
    got = load_idx_dir(tmp_path)
    for a, b in zip(arrays, got):
        assert np.array_equal(a, b)
    ds = load(RunConfig(dataset="idx", data_dir=str(tmp_path), input_scaling="unit"), torch.device("cpu"))
    assert ds.train_x.shape == (4000, 784) and float(ds.train_x.max()) == 1.0
    assert "IDX files in" in ds.source


def test_input_scalings(cache_dir: Path) -> None:
    cfg = RunConfig(dataset="sample", cache_dir=str(cache_dir))
    raw = load(cfg.replace(input_scaling="raw"), torch.device("cpu"))
    std = load(cfg, torch.device("cpu"))
    assert float(raw.train_x.max()) == 255.0
    assert abs(float(std.train_x.mean())) < 1e-4 and abs(float(std.train_x.std()) - 1) < 1e-3


def test_malformed_idx_files(tmp_path: Path) -> None:
    bad_magic = tmp_path / "a"
    bad_magic.write_bytes(b"\x12\x34\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(DataError, match="not an IDX file: bad magic"):
        read_idx(bad_magic)
    short = tmp_path / "b.gz"
    with gzip.open(short, "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"\0" * 100)
    with pytest.raises(DataError, match=r"malformed IDX file: header says \(10, 28, 28\)"):
        read_idx(short)
    not_gzip = tmp_path / "c.gz"
    not_gzip.write_bytes(b"plain bytes")
    with pytest.raises(DataError, match="cannot read IDX file"):
        read_idx(not_gzip)


def test_missing_or_unreadable_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a readable directory"):
        load_idx_dir(tmp_path / "nope")
    with pytest.raises(DataError, match="missing train-images-idx3-ubyte"):
        load_idx_dir(tmp_path)


def test_mismatched_labels(cache_dir: Path, tmp_path: Path) -> None:
    xtr, ytr, xte, yte = load_sample(cache_dir)
    write_dir(tmp_path, (xtr, ytr[:10], xte, yte), gz=True)
    with pytest.raises(DataError, match="do not match"):
        load_idx_dir(tmp_path)


def _offline(name: str, cache_dir: Path) -> Path:
    raise DataError(f"{name} could not be downloaded into {cache_dir}: network unreachable")


def test_mnist_download_failure_falls_back_to_the_sample(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data_mod, "_download", _offline)
    ds = load(RunConfig(dataset="mnist", cache_dir=str(cache_dir)), torch.device("cpu"))
    assert ds.name == "sample"
    assert "fallback" in ds.source
    assert ds.notice is not None and "could not be downloaded" in ds.notice and "\n" not in ds.notice
    assert ds.info()["notice"] == ds.notice  # recorded with the results


def test_no_fallback_and_other_datasets_fail_clearly(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data_mod, "_download", _offline)
    with pytest.raises(DataError, match="could not be downloaded"):
        load(RunConfig(dataset="mnist", fallback=False, cache_dir=str(cache_dir)), torch.device("cpu"))
    with pytest.raises(DataError, match="fashion could not be downloaded"):
        load(RunConfig(dataset="fashion", cache_dir=str(cache_dir)), torch.device("cpu"))


def test_downloaded_files_are_read_from_the_cache(cache_dir: Path, tmp_path: Path) -> None:
    """Files torchvision left in <cache>/KMNIST/raw are used without a download."""
    write_dir(tmp_path / "KMNIST" / "raw", load_sample(cache_dir), gz=True)
    ds = load(RunConfig(dataset="kmnist", cache_dir=str(tmp_path)), torch.device("cpu"))
    assert ds.name == "kmnist" and ds.train_x.shape[0] == 4000 and "KMNIST" in ds.source


def test_load_kept_keeps_one_split_and_checks_each_config(cache_dir: Path) -> None:
    """The one data cache (the app's engine process and a sweep's jobs): the same data settings
    get the same split; other settings let it go for a new one; a kept split is still checked
    against the config's batch."""
    from actlab.engine.data import load_kept

    cpu = torch.device("cpu")
    base = RunConfig(dataset="sample", cache_dir=str(cache_dir))
    first = load_kept(base, cpu)
    assert load_kept(base.replace(width=16, lr=0.2), cpu) is first  # training settings only
    unit = load_kept(base.replace(input_scaling="unit"), cpu)
    assert unit is not first and float(unit.train_x.min()) >= 0.0
    assert load_kept(base, cpu) is not first  # one split at a time: the first was let go
    with pytest.raises(DataError, match="batch_size 5000 is larger than the training split"):
        load_kept(base.replace(batch_size=5000), cpu)
