"""Shared pieces of the benchmarks: figures, interleaved timing, data, and the usual loop.

Every figure is measured side by side in one run: the contenders are timed in turn
(A B A B ...), each turn a short segment of work, and the medians of the turns are compared.
A noisy neighbour on a shared CPU then slows both sides alike instead of skewing the ratio.
"""

from __future__ import annotations

import gzip
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from actlab.engine import RunConfig
from actlab.engine.data import Dataset, default_cache_dir, load_idx_dir, load_sample, write_idx
from actlab.engine.lockstep import Trainer
from actlab.engine.model import initial_parameters, reference_network

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


# ------------------------------------------------------------------------------ figures


@dataclass
class Figure:
    """One reported number. `target` is a bound on `value` (`at_least` or `at_most`), or None
    for a figure that is reported without a target."""

    name: str
    value: float
    unit: str = ""
    target: float | None = None
    at_least: bool = True
    source: str = ""  # where the target comes from (issue 2, issue 5, design.md)
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "info"
        ok = self.value >= self.target if self.at_least else self.value <= self.target
        return "PASS" if ok else "MISS"

    def line(self) -> str:
        val = f"{self.value:,.3g}" if abs(self.value) < 1000 else f"{self.value:,.0f}"
        text = f"  {self.name:<46} {val:>9} {self.unit:<8}"
        if self.target is not None:
            op = ">=" if self.at_least else "<="
            tgt = f"{self.target:g}"
            text += f" target {op} {tgt} {self.unit} ({self.source})".replace("  ", " ")
            text = f"{text:<104} {self.verdict}"
        if self.note:
            text += f"\n  {'':<46} {self.note}"
        return text

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["verdict"] = self.verdict
        return d


@dataclass
class Result:
    """What one benchmark hands back: its figures, free-form details and text lines."""

    name: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)  # extra lines of the readable report
    seconds: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after


@dataclass
class Options:
    quick: bool = False
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    def repeats(self, full: int, quick: int = 3) -> int:
        return quick if self.quick else full


# ------------------------------------------------------------------------------ timing


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleave(
    contenders: Mapping[str, Callable[[], float | None]], repeats: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Run each contender in turn (A B A B ...) `repeats` times after `warmup` untimed rounds.

    A contender returns its own measurement (e.g. seconds per step) or None, in which case
    the wall time of the call is recorded. The order alternates each round (A B, B A, ...) so
    that neither side always runs straight after the other."""
    samples: dict[str, list[float]] = {k: [] for k in contenders}
    names = list(contenders)
    for r in range(warmup + repeats):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            t0 = time.perf_counter()
            measured = contenders[name]()
            wall = time.perf_counter() - t0
            if r >= warmup:
                samples[name].append(wall if measured is None else measured)
    return samples


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float]) -> str:
    """Median and min-max as a short string, e.g. '1.23 ms [1.20-1.31]'."""
    return f"{median(values) * 1e3:.3g} ms [{min(values) * 1e3:.3g}-{max(values) * 1e3:.3g}]"


# ------------------------------------------------------------------------------ data


_CACHE: dict[str, Any] = {}


def full_size_arrays() -> tuple[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """60,000/10,000 images as uint8 arrays: Fashion-MNIST from disk, else synthetic."""
    if "full" not in _CACHE:
        if (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file():
            _CACHE["full"] = (f"Fashion-MNIST ({FASHION_DIR})", load_idx_dir(FASHION_DIR))
        else:
            _CACHE["full"] = ("synthetic MNIST-sized data", synthetic_arrays(60_000, 10_000))
    return _CACHE["full"]


def synthetic_arrays(
    n_train: int, n_test: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST-shaped uint8 images whose class is learnable (a class-dependent blob + noise)."""
    rng = np.random.default_rng(seed)
    protos = rng.integers(0, 256, size=(10, 784)).astype(np.float32)
    out: list[np.ndarray] = []
    for n in (n_train, n_test):
        y = rng.integers(0, 10, size=n)
        x = 0.6 * protos[y] + 0.4 * rng.integers(0, 256, size=(n, 784))
        out += [x.astype(np.uint8), y.astype(np.int64)]
    return out[0], out[1], out[2], out[3]


def write_synthetic_idx(directory: Path, n_train: int = 60_000, n_test: int = 10_000) -> Path:
    """Write synthetic MNIST-sized data as the four standard IDX files into `directory`."""
    from actlab.engine.data import IDX_NAMES

    directory.mkdir(parents=True, exist_ok=True)
    xtr, ytr, xte, yte = synthetic_arrays(n_train, n_test)
    for key, arr in (
        ("train_images", xtr.reshape(-1, 28, 28)),
        ("train_labels", ytr),
        ("test_images", xte.reshape(-1, 28, 28)),
        ("test_labels", yte),
    ):
        write_idx(directory / IDX_NAMES[key], arr.astype(np.uint8))
    return directory


def sample_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if "sample" not in _CACHE:
        _CACHE["sample"] = load_sample(default_cache_dir())
    return _CACHE["sample"]


def to_dataset(name: str, arrays: tuple[np.ndarray, ...], device: torch.device) -> Dataset:
    """The engine's Dataset from uint8 arrays, standardized as the engine does by default."""
    xtr, ytr, xte, yte = arrays
    tr = torch.from_numpy(np.ascontiguousarray(xtr)).float().div_(255.0)
    te = torch.from_numpy(np.ascontiguousarray(xte)).float().div_(255.0)
    mean, std = tr.mean(), tr.std()
    tr.sub_(mean).div_(std)
    te.sub_(mean).div_(std)
    return Dataset(
        name=name,
        source=name,
        train_x=tr.to(device),
        train_y=torch.from_numpy(np.asarray(ytr)).to(device),
        test_x=te.to(device),
        test_y=torch.from_numpy(np.asarray(yte)).to(device),
    )


def full_dataset(device: torch.device) -> Dataset:
    key = f"full-ds-{device}"
    if key not in _CACHE:
        name, arrays = full_size_arrays()
        _CACHE[key] = to_dataset(name, arrays, device)
    return _CACHE[key]


def mean_std(arrays: tuple[np.ndarray, ...]) -> tuple[float, float]:
    tr = torch.from_numpy(np.ascontiguousarray(arrays[0])).float().div_(255.0)
    return float(tr.mean()), float(tr.std())


class TorchvisionRoot:
    """A temporary torchvision root holding `FashionMNIST/raw/*-ubyte` (uncompressed IDX),
    the layout `torchvision.datasets.FashionMNIST` reads without downloading."""

    def __init__(self, arrays: tuple[np.ndarray, ...]) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="actlab-bench-tv-"))
        raw = self.dir / "FashionMNIST" / "raw"
        raw.mkdir(parents=True)
        xtr, ytr, xte, yte = arrays
        side = int(round(xtr.shape[1] ** 0.5)) if xtr.ndim == 2 else xtr.shape[1]
        write_idx(raw / "train-images-idx3-ubyte", xtr.reshape(-1, side, side))
        write_idx(raw / "train-labels-idx1-ubyte", ytr.astype(np.uint8))
        write_idx(raw / "t10k-images-idx3-ubyte", xte.reshape(-1, side, side))
        write_idx(raw / "t10k-labels-idx1-ubyte", yte.astype(np.uint8))

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def gunzip_to(src: Path, dst: Path) -> None:
    with gzip.open(src, "rb") as f, open(dst, "wb") as g:
        shutil.copyfileobj(f, g)


# ------------------------------------------------------------------------------ contenders


class UsualLoop:
    """The hand-written PyTorch loop most tutorials show: a torchvision Dataset with
    ToTensor + Normalize, a shuffling DataLoader, nn.Sequential, torch.optim.SGD with
    momentum and CrossEntropyLoss; evaluation on the whole test split through a DataLoader."""

    def __init__(
        self,
        root: Path,
        sizes: list[int],
        norm: tuple[float, float],
        device: torch.device,
        batch_size: int = 64,
        eval_every: int = 0,
        lr: float = 0.05,
        momentum: float = 0.9,
        activation: str = "relu",
        seed: int = 0,
    ) -> None:
        from torch.utils.data import DataLoader
        from torchvision import datasets, transforms

        tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((norm[0],), (norm[1],))])
        self.train_set = datasets.FashionMNIST(str(root), train=True, transform=tf, download=False)
        self.test_set = datasets.FashionMNIST(str(root), train=False, transform=tf, download=False)
        torch.manual_seed(seed)
        self.loader = DataLoader(self.train_set, batch_size=batch_size, shuffle=True, drop_last=True)
        self.test_loader = DataLoader(self.test_set, batch_size=1000)
        weights = initial_parameters(sizes, "default", seed)
        self.model = reference_network(activation, sizes, weights).to(device)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr, momentum=momentum)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.device = device
        self.eval_every = eval_every
        self.iteration = 0
        self._it: Iterator[Any] = iter(self.loader)
        self.last_accuracy = 0.0

    def _next(self) -> tuple[torch.Tensor, torch.Tensor]:
        try:
            return next(self._it)
        except StopIteration:
            self._it = iter(self.loader)
            return next(self._it)

    def train(self, n: int, evaluate: bool = True) -> float:
        """n iterations (evaluating every `eval_every`); returns seconds per iteration."""
        sync(self.device)
        t0 = time.perf_counter()
        self.model.train()
        for _ in range(n):
            x, y = self._next()
            x, y = x.to(self.device).flatten(1), y.to(self.device)
            self.opt.zero_grad()
            loss = self.loss_fn(self.model(x), y)
            loss.backward()
            self.opt.step()
            self.iteration += 1
            if evaluate and self.eval_every and self.iteration % self.eval_every == 0:
                self.evaluate()
                self.model.train()
        sync(self.device)
        return (time.perf_counter() - t0) / n

    @torch.no_grad()
    def evaluate(self) -> float:
        self.model.eval()
        correct, total = 0, 0
        for x, y in self.test_loader:
            x, y = x.to(self.device).flatten(1), y.to(self.device)
            correct += int((self.model(x).argmax(1) == y).sum())
            total += y.numel()
        self.last_accuracy = correct / total
        return self.last_accuracy


class EngineLoop:
    """The engine's own step and evaluation, driven the way `actlab.engine.run` drives them
    (evaluation every `eval_every` iterations with one host read of the accuracies)."""

    def __init__(self, config: RunConfig, data: Dataset, device: torch.device, eval_every: int = 0) -> None:
        torch.manual_seed(config.seed)
        self.trainer = Trainer(config, data, device)
        self.data = data
        self.device = device
        self.eval_every = eval_every
        self._batches: list[torch.Tensor] = []

    def _next(self) -> torch.Tensor:
        if not self._batches:
            self._batches = self.trainer.batches()[::-1]
        return self._batches.pop()

    def train(self, n: int, evaluate: bool = True) -> float:
        tr = self.trainer
        sync(self.device)
        t0 = time.perf_counter()
        for _ in range(n):
            tr.step(self._next())
            if evaluate and self.eval_every and tr.iteration % self.eval_every == 0:
                self.evaluate()
        sync(self.device)
        return (time.perf_counter() - t0) / n

    def evaluate(self) -> list[float]:
        acc, loss = self.trainer.evaluate(self.data.test_x, self.data.test_y)
        return acc.cpu().tolist()  # the host read `run` makes at every evaluation


def default_sizes(data: Dataset, depth: int = 2, width: int = 128) -> list[int]:
    return [data.n_features] + [width] * depth + [data.n_classes]
