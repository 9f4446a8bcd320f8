"""Shared fixtures: the bundled MNIST sample, loaded once, and small configs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from actlab.engine import RunConfig, threads
from actlab.engine.data import Dataset, load

# One intra-op thread, fixed (no thread tuner), here and in every process a test starts (the
# app's engine process, CLI subprocesses): results do not depend on it, and on a shared 2-core
# machine a second OpenMP thread spinning against other processes makes small steps 100x slower.
threads.fixed(1)
os.environ["OMP_NUM_THREADS"] = "1"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("actlab-cache")


@pytest.fixture(scope="session")
def sample(cache_dir: Path) -> Dataset:
    """The real bundled digits (4,000 train / 1,000 test), standardized, on the CPU."""
    return load(RunConfig(dataset="sample", cache_dir=str(cache_dir)), torch.device("cpu"))


@pytest.fixture
def tiny_config(cache_dir: Path) -> RunConfig:
    return RunConfig(
        activations=("sigmoid", "tanh", "relu"),
        depth=2,
        width=32,
        batch_size=32,
        epochs=1,
        max_iterations=40,
        eval_every=10,
        diagnostics_every=20,
        dataset="sample",
        cache_dir=str(cache_dir),
        device="cpu",
    )


@pytest.fixture(scope="session")
def small(cache_dir: Path) -> RunConfig:
    """Two members, 16 units, 30 iterations: the runs of the sweep tests."""
    return RunConfig(
        activations=("sigmoid", "relu"),
        depth=2,
        width=16,
        batch_size=32,
        epochs=1,
        max_iterations=30,
        eval_every=10,
        diagnostics_every=0,
        dataset="sample",
        cache_dir=str(cache_dir),
        device="cpu",
    )
