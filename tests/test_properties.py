"""Property-based: random options, and random damage to stored streams and IDX files,
never give a traceback: one ResultsError/DataError/ConfigError line, or a correct result.

Derandomized and bounded, so the same examples run every time (about 10 s in all)."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from actlab.engine.config import ConfigError, RunConfig
from actlab.engine.data import DataError, load_idx_dir, write_idx
from actlab.engine.experiments.report import diagnostics_table, threshold_table
from actlab.engine.experiments.results import replay
from actlab.engine.experiments.store import ResultsError
from actlab.tui import batch as batch_mod
from actlab.tui.cli import main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streams import lines, write_run

SETTINGS = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

# ------------------------------------------------------------------- options


def _number_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.sampled_from(["1e39", "-0", "0x10", "nan", "inf", "1_000", "", " ", "1,2", "3.4e38", "1e-50"]),
        st.text(max_size=12),
    )


OPTIONS: dict[str, st.SearchStrategy[str]] = {
    "--activations": st.lists(
        st.sampled_from(["sigmoid", "tanh", "relu", "gelu", "swish", "", "RELU"]), max_size=4
    ).map(",".join)
    | st.text(max_size=10),
    "--thresholds": st.lists(_number_text(), max_size=4).map(",".join),
    "--dataset": st.sampled_from(["sample", "mnist", "idx", "fashion", "cifar"]),
    "--data-dir": st.text(max_size=10),
    "--optimizer": st.sampled_from(["sgd", "adam", "lbfgs"]),
    "--clip": st.sampled_from(["none", "l2", "value", "l3"]),
    "--device": st.sampled_from(["auto", "cpu", "cuda:x", "cuda:\u00b2", "cuda:\u0663", "tpu"])
    | st.text(max_size=6),
    "--preset": st.sampled_from(["seed", "quick", "deep", "huge"]),
    "--seeds": _number_text(),
    "--format": st.sampled_from(["table", "md", "csv", "json", "xml", ""]),
}
for flag in (
    "--depth",
    "--width",
    "--lr",
    "--momentum",
    "--batch-size",
    "--epochs",
    "--max-iterations",
    "--weight-decay",
    "--l1",
    "--dropout",
    "--clip-threshold",
    "--eval-every",
    "--diagnostics-every",
    "--seed",
):
    OPTIONS[flag] = _number_text()


@st.composite
def argvs(draw: st.DrawFn) -> list[str]:
    chosen = draw(st.lists(st.sampled_from(sorted(OPTIONS)), min_size=1, max_size=5, unique=True))
    argv = []
    for flag in chosen:
        argv += [flag, draw(OPTIONS[flag])]
    return argv


@SETTINGS
@given(argv=argvs())
def test_random_options_never_give_a_traceback(argv: list[str]) -> None:
    started: list[RunConfig] = []

    def no_training(config: RunConfig, *args: Any, **kw: Any) -> int:
        started.append(config)  # reached only with a valid configuration: nothing trains
        return 0

    err = io.StringIO()
    real = batch_mod.run_batch
    batch_mod.run_batch = no_training
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                main(["--batch", "-q", "--out", "/nonexistent/never", *argv])
                code = 0
            except SystemExit as exc:
                code = int(exc.code or 0)
    finally:
        batch_mod.run_batch = real
    text = err.getvalue()
    assert code in (0, 2), text  # 1 would be an engine failure: a bug for mere options
    assert "Traceback" not in text
    if code == 2:
        assert text.count("\n") == 1 and text.startswith("actlab-tui: error: "), text
    else:
        assert len(started) == 1 and started[0].validate() is started[0]
        torch.device(started[0].device.replace("auto", "cpu"))  # a device torch understands


FIELD_VALUES = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.none(),
    st.booleans(),
)


@SETTINGS
@given(
    changes=st.dictionaries(
        st.sampled_from([f for f in RunConfig().to_dict() if f not in ("activations", "thresholds")]),
        FIELD_VALUES,
        max_size=4,
    )
)
def test_random_setting_values_validate_or_give_one_config_error(changes: dict[str, Any]) -> None:
    try:
        RunConfig(**changes).validate()
    except ConfigError as exc:
        assert "\n" not in str(exc)


# -------------------------------------------------------------- stored streams

VALID = lines()


def _json_values() -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
        max_leaves=6,
    )


@st.composite
def damaged_streams(draw: st.DrawFn) -> bytes:
    rows = list(VALID)
    kind = draw(st.sampled_from(["flip", "truncate", "swap", "retype", "drop", "duplicate"]))
    i = draw(st.integers(0, len(rows) - 1))
    if kind in ("swap", "retype"):
        obj = json.loads(rows[i])
        keys = sorted(k for k in obj if k != "type") or ["type"]
        a = draw(st.sampled_from(keys))
        if kind == "swap":
            b = draw(st.sampled_from(sorted(obj)))
            obj[a], obj[b] = obj[b], obj[a]
        else:
            obj[a] = draw(_json_values())
        rows[i] = json.dumps(obj)
    elif kind == "drop":
        del rows[i]
    elif kind == "duplicate":
        rows.insert(i, rows[i])
    data = bytearray(("\n".join(rows) + "\n").encode())
    if kind == "flip":
        for _ in range(draw(st.integers(1, 4))):
            pos = draw(st.integers(0, len(data) - 1))
            data[pos] ^= 1 << draw(st.integers(0, 7))
    elif kind == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@SETTINGS
@given(content=damaged_streams())
def test_damaged_streams_read_correctly_or_give_one_results_error(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = write_run(Path(tmp) / "run", content)
        try:
            summary = replay(directory, lambda e: None)
        except ResultsError as exc:
            assert "\n" not in str(exc) and "events.jsonl" in str(exc)
            return
    # what was read is a run the tables can show
    assert summary.status in ("done", "stopped", "error", "interrupted")
    threshold_table(summary)
    diagnostics_table(summary)


# ------------------------------------------------------------------- IDX files


def _idx_dir(directory: Path, gz: bool) -> dict[str, bytes]:
    rng = np.random.default_rng(1)
    ext = ".gz" if gz else ""
    arrays = {
        f"train-images-idx3-ubyte{ext}": rng.integers(0, 256, (6, 4, 4)),
        f"train-labels-idx1-ubyte{ext}": rng.integers(0, 10, 6),
        f"t10k-images-idx3-ubyte{ext}": rng.integers(0, 256, (3, 4, 4)),
        f"t10k-labels-idx1-ubyte{ext}": rng.integers(0, 10, 3),
    }
    for name, a in arrays.items():
        write_idx(directory / name, a)
    return {name: (directory / name).read_bytes() for name in arrays}


@SETTINGS
@given(
    gz=st.booleans(),
    which=st.integers(0, 3),
    kind=st.sampled_from(["flip", "truncate", "append", "header"]),
    data=st.data(),
)
def test_damaged_idx_files_read_or_give_one_data_error(
    gz: bool, which: int, kind: str, data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        files = _idx_dir(directory, gz)
        name = sorted(files)[which]
        raw = bytearray(gzip.decompress(files[name]) if gz else files[name])
        if kind == "flip":
            for _ in range(data.draw(st.integers(1, 3))):
                raw[data.draw(st.integers(0, len(raw) - 1))] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "truncate":
            raw = raw[: data.draw(st.integers(0, len(raw)))]
        elif kind == "append":
            raw += data.draw(st.binary(min_size=1, max_size=8))
        else:  # any header: magic, dimensions and sizes
            raw[: data.draw(st.integers(4, 16))] = data.draw(st.binary(min_size=4, max_size=16))
        body = bytes(raw)
        if gz and data.draw(st.booleans()):
            body = gzip.compress(body)[: data.draw(st.integers(0, len(gzip.compress(body))))]
        elif gz:
            body = gzip.compress(body)
        (directory / name).write_bytes(body)
        try:
            xtr, ytr, xte, yte = load_idx_dir(directory)
        except DataError as exc:
            assert "\n" not in str(exc)
            return
    assert len(xtr) == len(ytr) and len(xte) == len(yte) and xtr.shape[1] == xte.shape[1]
    assert ytr.max() <= 9 and yte.max() <= 9 and xtr.dtype == np.uint8


def test_property_settings_are_derandomized() -> None:
    assert SETTINGS.derandomize and SETTINGS.deadline is None and not math.isinf(SETTINGS.max_examples)
