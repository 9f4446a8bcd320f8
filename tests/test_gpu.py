"""GPU path (issue 5): run on a machine with CUDA, skipped elsewhere.

`benchmarks/gpu_check.sh` runs these; on a CPU-only machine they are all skipped."""

from __future__ import annotations

import pytest
import torch
from actlab.engine import RunConfig, run
from actlab.engine.data import Dataset
from actlab.engine.lockstep import Trainer
from actlab.engine.train import resolve_eval_every

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _data(device: torch.device, n_train: int = 2048, n_test: int = 512) -> Dataset:
    gen = torch.Generator().manual_seed(0)
    protos = torch.randn(10, 784, generator=gen)
    ytr = torch.randint(0, 10, (n_train,), generator=gen)
    yte = torch.randint(0, 10, (n_test,), generator=gen)
    xtr = protos[ytr] + torch.randn(n_train, 784, generator=gen)
    xte = protos[yte] + torch.randn(n_test, 784, generator=gen)
    return Dataset("synthetic", "test", xtr.to(device), ytr.to(device), xte.to(device), yte.to(device))


def test_step_matches_cpu() -> None:
    """The same cohort, batches and settings follow the same trajectory on CUDA as on CPU."""
    torch.backends.cuda.matmul.allow_tf32 = False
    cfg = RunConfig(activations=("sigmoid", "tanh", "relu"))
    cpu = Trainer(cfg, _data(torch.device("cpu")), torch.device("cpu"))
    gpu = Trainer(cfg, _data(torch.device("cuda")), torch.device("cuda"))
    for idx_c, idx_g in list(zip(cpu.batches(), gpu.batches()))[:20]:
        assert torch.equal(idx_c, idx_g.cpu())
        cpu.step(idx_c)
        gpu.step(idx_g)
    for pc, pg in zip(cpu.cohort.parameters(), gpu.cohort.parameters()):
        assert pg.device.type == "cuda"
        torch.testing.assert_close(pg.cpu(), pc, rtol=1e-3, atol=1e-4)


def test_step_makes_no_host_sync() -> None:
    """Between evaluations the step never waits for the GPU (sync debug mode raises if so)."""
    cfg = RunConfig(activations=("sigmoid", "tanh", "relu"), clip="l2")
    tr = Trainer(cfg, _data(torch.device("cuda")), torch.device("cuda"))
    batches = tr.batches()
    tr.step(batches[0])  # first call may allocate and initialise lazily
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for idx in batches[1:20]:
            tr.step(idx)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()


def test_run_on_cuda_keeps_everything_on_the_device() -> None:
    data = _data(torch.device("cuda"))
    summary = run(RunConfig(activations=("relu", "tanh"), epochs=2, device="cuda"), data=data)
    assert str(summary.device).startswith("cuda")
    accs = [m.final_accuracy for m in summary.members]
    assert all(a is not None and a > 0.5 for a in accs)


def test_default_cadence_on_gpu_is_fine() -> None:
    assert resolve_eval_every(RunConfig(), torch.device("cuda"), 10_000) <= 10
