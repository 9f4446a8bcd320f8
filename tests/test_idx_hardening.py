"""The IDX reader bounds memory by the header and refuses anything but the four standard
files of unsigned bytes, each case in one line."""

from __future__ import annotations

import gzip
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from actlab.engine.data import MAX_IDX_BYTES, DataError, load_idx_dir, read_idx, write_idx
from actlab.tui.cli import main


def idx_bytes(shape: tuple[int, ...], dtype: int = 0x08, data: bytes | None = None) -> bytes:
    header = bytes([0, 0, dtype, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    return header + (bytes(int(np.prod(shape))) if data is None else data)


def small_dir(directory: Path, n_train: int = 30, n_test: int = 10, gz: bool = False) -> Path:
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    write_idx(directory / f"train-images-idx3-ubyte{ext}", rng.integers(0, 256, (n_train, 28, 28)))
    write_idx(directory / f"train-labels-idx1-ubyte{ext}", rng.integers(0, 10, n_train))
    write_idx(directory / f"t10k-images-idx3-ubyte{ext}", rng.integers(0, 256, (n_test, 28, 28)))
    write_idx(directory / f"t10k-labels-idx1-ubyte{ext}", rng.integers(0, 10, n_test))
    return directory


def gzip_of_zeros(header: bytes, n: int) -> bytes:
    """A gzip file of `header` and `n` zero bytes, compressed as a stream (never held whole)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    parts = [comp.compress(header)]
    block = bytes(2**20)
    for _ in range(n // len(block)):
        parts.append(comp.compress(block))
    parts.append(comp.compress(bytes(n % len(block))))
    parts.append(comp.flush())
    return b"".join(parts)


def test_a_gzip_bomb_is_refused_after_the_declared_size_within_a_small_memory_bound(tmp_path: Path) -> None:
    header = idx_bytes((1000, 28, 28), data=b"")
    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    bomb.write_bytes(gzip_of_zeros(header, 2**28))  # inflates to 256 MiB, 340x what it declares
    assert bomb.stat().st_size < 2**20
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="trailing data after the 784000 bytes its header declares"):
            read_idx(bomb, 3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 784_000 + 4 * 2**20  # the declared data plus a few chunk buffers


def test_a_header_declaring_a_billion_images_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(idx_bytes((10**9, 28, 28), data=b"\x00" * 100))
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=f"784,000,000,000 bytes; at most {MAX_IDX_BYTES:,}"):
            read_idx(path, 3)
        assert tracemalloc.get_traced_memory()[1] < 2**20
    finally:
        tracemalloc.stop()


BAD_FILES = [
    (idx_bytes((10, 28, 28, 1)), 3, "4 dimensions, expected 3"),
    (idx_bytes((10, 784)), 3, "2 dimensions, expected 3"),
    (idx_bytes((0, 28, 28)), 3, "declares shape (0, 28, 28), with no data"),
    (
        idx_bytes((10, 28, 28), dtype=0x0D),
        3,
        "IDX data type float32 (0x0d); images and labels must be unsigned",
    ),
    (idx_bytes((10, 28, 28), dtype=0x09), 3, "signed byte"),
    (idx_bytes((10, 28, 28)) + b"garbage", 3, "trailing data after the 7840 bytes"),
    (idx_bytes((10, 28, 28))[:-5], 3, "header says (10, 28, 28) (7840 bytes of data) but it holds 7835"),
    (bytes([0, 0, 8, 3, 0, 0]), 3, "truncated header"),
    (b"", 3, "bad magic number empty"),
    (b"\x12\x34\x08\x01", 1, "bad magic number 12340801"),
]


@pytest.mark.parametrize("content,ndim,message", BAD_FILES, ids=[m for _, _, m in BAD_FILES])
@pytest.mark.parametrize("gz", [False, True])
def test_malformed_idx_is_one_line(tmp_path: Path, content: bytes, ndim: int, message: str, gz: bool) -> None:
    path = tmp_path / ("f.gz" if gz else "f")
    path.write_bytes(gzip.compress(content) if gz else content)
    with pytest.raises(DataError) as info:
        read_idx(path, ndim)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_garbage_after_the_gzip_stream_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "f.gz"
    path.write_bytes(gzip.compress(idx_bytes((3,))) + b"not gzip at all")
    with pytest.raises(DataError, match="cannot read IDX file .*f.gz: BadGzipFile"):
        read_idx(path, 1)


def test_labels_outside_the_class_range(tmp_path: Path) -> None:
    d = small_dir(tmp_path)
    labels = np.zeros(30, dtype=np.uint8)
    labels[17] = 12
    write_idx(d / "train-labels-idx1-ubyte", labels)
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte: label 12 at index 17; labels must be 0-9"):
        load_idx_dir(d)


def test_mismatched_counts_and_sizes(tmp_path: Path) -> None:
    d = small_dir(tmp_path)
    write_idx(d / "t10k-labels-idx1-ubyte", np.zeros(9, dtype=np.uint8))
    with pytest.raises(DataError, match="10 test images but 9 test labels .*the counts do not match"):
        load_idx_dir(d)
    small_dir(tmp_path)
    write_idx(d / "t10k-images-idx3-ubyte", np.zeros((10, 14, 14), dtype=np.uint8))
    with pytest.raises(DataError, match=r"train images are \(28, 28\) and test images \(14, 14\)"):
        load_idx_dir(d)


@pytest.mark.parametrize("gz", [False, True])
def test_a_small_valid_directory_reads(tmp_path: Path, gz: bool) -> None:
    xtr, ytr, xte, yte = load_idx_dir(small_dir(tmp_path, gz=gz))
    assert xtr.shape == (30, 784) and xtr.dtype == np.uint8 and ytr.dtype == np.int64 and yte.shape == (10,)


def test_the_cli_turns_a_bad_idx_directory_into_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = small_dir(tmp_path / "data")
    (d / "train-images-idx3-ubyte").write_bytes(idx_bytes((10**6, 28, 28), data=b""))
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as info:
        main(["--batch", "-q", "--data-dir", str(d), "--out", str(out)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1
    assert err.startswith("actlab-tui: error: ") and "header declares shape (1000000, 28, 28)" not in err
    assert "header says (1000000, 28, 28)" in err  # declared within the cap, then truncated
    assert not out.exists()
