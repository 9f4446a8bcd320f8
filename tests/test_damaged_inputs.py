"""Damaged inputs to the commands that read saved runs (compare, report, --open, --batch --open,
--resume): JSON nested 100,000 deep, link loops, directories that may not be read. Each is one
line on stderr naming the path, exit 2, never a traceback and never the app started."""

from __future__ import annotations

import builtins
import errno
import io
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from actlab.engine import RunConfig
from actlab.engine.data import Dataset
from actlab.engine.experiments.store import ResultsError, read_json
from actlab.tui.cli import main
from streams import lines, write_run
from sweeps import finished_sweep

DEEP = "[" * 100_000 + "]" * 100_000

# every command that reads a saved directory; "--open" is the app's path, checked before it starts
COMMANDS: dict[str, Callable[[Path], list[str]]] = {
    "batch-open": lambda d: ["--batch", "--open", str(d)],
    "app-open": lambda d: ["--open", str(d)],
    "compare": lambda d: ["compare", str(d)],
    "report": lambda d: ["report", str(d)],
}


@pytest.fixture(autouse=True)
def no_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app must not start: a damaged directory is refused before it."""
    from actlab.tui import app

    def refuse(*args: Any, **kw: Any) -> None:
        raise AssertionError("the app was started")

    monkeypatch.setattr(app, "create_app", refuse)


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return int(exit_info.value.code or 0), capsys.readouterr().err


def assert_one_line(code: int, err: str, *expected: str) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("actlab-tui: error: "), err
    for text in expected:
        assert text in err, err


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, small: RunConfig, sample: Dataset) -> Path:
    """A finished 2-point sweep of 2 seeds and a single run, made once; each test copies them."""
    root = tmp_path_factory.mktemp("saved")
    finished_sweep(root / "sweep", small, [("lr", [0.02, 0.2])], [0, 1], sample)
    write_run(root / "run", "\n".join(lines()) + "\n")
    return root


@pytest.fixture
def copy(saved: Path, tmp_path: Path) -> Path:
    shutil.copytree(saved, tmp_path, dirs_exist_ok=True)
    return tmp_path


# ------------------------------------------------------------------ JSON nested too deep


def test_read_json_bounds_nesting_size_and_encoding(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(DEEP)
    with pytest.raises(ResultsError, match=r"x.json: not a readable summary \(nested too deep\)$"):
        read_json(path, "not a readable summary")
    path.write_text("[" * 40 + "]" * 40)  # parses, but deeper than any file of ours
    with pytest.raises(ResultsError, match=r"nested too deep"):
        read_json(path, "not a readable summary")
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(ResultsError, match=r"not UTF-8 text, byte 7"):
        read_json(path, "not a readable summary")
    path.write_text('{"a": ' + "9" * 5000 + "}")  # a ValueError of its own, not a JSONDecodeError
    with pytest.raises(ResultsError, match=r"x.json: not a readable summary \(Exceeds the limit"):
        read_json(path, "not a readable summary")
    with pytest.raises(FileNotFoundError):
        read_json(tmp_path / "missing.json", "not a readable summary")


@pytest.mark.parametrize("command", [*COMMANDS, "resume"])
@pytest.mark.parametrize(
    ("rel", "refusal"),
    [
        ("sweep.json", "not readable as a sweep plan"),
        ("lr=0.2/seed-1/summary.json", "not a readable summary"),
    ],
)
def test_json_nested_too_deep_in_a_sweep_is_one_line(
    copy: Path, rel: str, refusal: str, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy / "sweep"
    (root / rel).write_text(DEEP)
    args = ["--batch", "-q", "--resume", str(root)] if command == "resume" else COMMANDS[command](root)
    code, err = run_cli(args, capsys)
    assert_one_line(code, err, f"{root / rel}: {refusal} (nested too deep)")


@pytest.mark.parametrize("command", COMMANDS)
def test_json_nested_too_deep_in_a_sweep_point_is_one_line(
    copy: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    point = copy / "sweep" / "lr=0.2"
    (point / "seed-0" / "summary.json").write_text(DEEP)
    code, err = run_cli(COMMANDS[command](point), capsys)
    assert_one_line(
        code, err, f"{point / 'seed-0' / 'summary.json'}: not a readable summary (nested too deep)"
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_an_event_nested_too_deep_is_one_line(
    copy: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run = copy / "run"
    (run / "events.jsonl").write_text(DEEP + "\n")
    code, err = run_cli(COMMANDS[command](run), capsys)
    assert_one_line(code, err, f"{run / 'events.jsonl'} line 1: nested deeper than")


@pytest.mark.parametrize("command", [*COMMANDS, "resume"])
@pytest.mark.parametrize("rel", ["lr=0.2/seed-1/config.json", "lr=0.2/aggregate.json", "sweep-results.json"])
def test_files_no_command_reads_may_be_damaged(
    copy: Path, rel: str, command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """config.json, aggregate.json and sweep-results.json are written for people and other
    tools; the commands read the plan, the summaries and the streams. Were one of them read,
    it would have to be one line naming it, like the others."""
    from actlab.tui import app

    monkeypatch.setattr(app, "create_app", lambda *a, **kw: _NoApp())
    root = copy / "sweep"
    (root / rel).write_text(DEEP)
    args = ["--batch", "-q", "--resume", str(root)] if command == "resume" else COMMANDS[command](root)
    code, err = run_cli(args, capsys)
    if code != 0:
        assert_one_line(code, err, str(root / rel))


class _NoApp:
    exit_code = 0

    def run(self) -> None:
        return None


# ------------------------------------------------------------------ link loops


@pytest.mark.parametrize("command", COMMANDS)
def test_a_link_loop_is_one_line(tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to("loop")
    code, err = run_cli(COMMANDS[command](loop), capsys)
    assert_one_line(code, err, str(loop))


@pytest.mark.parametrize("command", COMMANDS)
def test_a_directory_holding_a_link_to_itself_is_one_line(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "self").symlink_to("../d")
    code, err = run_cli(COMMANDS[command](d), capsys)
    assert_one_line(code, err, str(d))


@pytest.mark.parametrize("command", [*COMMANDS, "resume"])
def test_a_sweep_whose_run_is_a_link_loop_is_one_line(
    copy: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy / "sweep"
    summary = root / "lr=0.2" / "seed-1" / "summary.json"
    summary.unlink()
    summary.symlink_to("summary.json")
    args = ["--batch", "-q", "--resume", str(root)] if command == "resume" else COMMANDS[command](root)
    code, err = run_cli(args, capsys)
    assert_one_line(code, err, str(root / "lr=0.2" / "seed-1"))


# ------------------------------------------------------------------ directories that may not be read


@pytest.fixture
def unreadable(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], None]]:
    """`chmod 000 DIR`, as the file system would answer a user other than root: DIR itself can
    be looked at, nothing in it can be opened, listed or looked at. (Tests run as root in CI,
    where mode 000 denies nothing.)"""
    denied: list[str] = []

    def inside(path: Any, self_too: bool) -> bool:
        if isinstance(path, int):
            return False
        p = os.path.abspath(os.fsdecode(os.fspath(path)))
        return any(p.startswith(d + os.sep) or (self_too and p == d) for d in denied)

    def guard(real: Callable[..., Any], self_too: bool) -> Callable[..., Any]:
        def call(path: Any, *args: Any, **kw: Any) -> Any:
            if inside(path, self_too):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
            return real(path, *args, **kw)

        return call

    for module, name, self_too in (
        (os, "stat", False),
        (os, "lstat", False),
        (os, "open", True),
        (os, "scandir", True),
        (os, "listdir", True),
        (io, "open", True),
        (builtins, "open", True),
    ):
        monkeypatch.setattr(module, name, guard(getattr(module, name), self_too))
    yield lambda d: denied.append(os.path.abspath(d))


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unreadable_run_is_one_line(
    copy: Path, command: str, capsys: pytest.CaptureFixture[str], unreadable: Callable[[Path], None]
) -> None:
    run = copy / "run"
    unreadable(run)
    code, err = run_cli(COMMANDS[command](run), capsys)
    assert_one_line(code, err, str(run), "(Permission denied)")


@pytest.mark.parametrize("command", [*COMMANDS, "resume"])
def test_a_sweep_with_an_unreadable_run_is_one_line(
    copy: Path, command: str, capsys: pytest.CaptureFixture[str], unreadable: Callable[[Path], None]
) -> None:
    root = copy / "sweep"
    unreadable(root / "lr=0.2" / "seed-1")
    args = ["--batch", "-q", "--resume", str(root)] if command == "resume" else COMMANDS[command](root)
    code, err = run_cli(args, capsys)
    assert_one_line(code, err, str(root / "lr=0.2" / "seed-1"), "(Permission denied)")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads directories of mode 000")
@pytest.mark.parametrize("command", COMMANDS)
def test_a_mode_000_run_directory_is_one_line(
    copy: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run = copy / "run"
    run.chmod(0)
    try:
        code, err = run_cli(COMMANDS[command](run), capsys)
    finally:
        run.chmod(0o755)
    assert_one_line(code, err, str(run), "(Permission denied)")
