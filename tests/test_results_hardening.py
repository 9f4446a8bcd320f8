"""Run directories: never overwrite, never follow links, durable and tidy; stored streams
validated line by line; a stream without run_finished reads back as interrupted."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from actlab.engine.events import EpochFinished, RunFinished
from actlab.engine.experiments import results as results_mod
from actlab.engine.experiments.results import MAX_LINE_BYTES, ResultsWriter, read_events, replay
from actlab.engine.experiments.store import MAX_NESTING, ResultsError, write_file
from actlab.tui.cli import main
from streams import events, lines, write_run


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return int(exit_info.value.code or 0), capsys.readouterr().err


def feed(writer: ResultsWriter, n: int | None = None) -> None:
    for e in events()[:n]:
        writer(e)


# ------------------------------------------------------------------ new or empty only


def test_a_directory_holding_another_run_is_refused_and_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text('{"theirs": 1}')
    (other / "summary.json").write_text('{"theirs": 2}')
    for extra in ([], ["--seeds", "2"]):
        code, err = run_cli(["--batch", "-q", "--out", str(other), *extra], capsys)
        assert code == 2 and err.count("\n") == 1
        assert f"results directory {other} already holds a run" in err
    assert sorted(p.name for p in other.iterdir()) == ["config.json", "summary.json"]
    assert (other / "config.json").read_text() == '{"theirs": 1}'
    with pytest.raises(ResultsError, match="already holds a run"):
        ResultsWriter(other)


def test_a_non_empty_directory_or_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ResultsError, match=r"is not empty \(notes.txt\); choose a new or empty"):
        ResultsWriter(tmp_path)
    with pytest.raises(ResultsError, match="exists and is not a directory"):
        ResultsWriter(tmp_path / "notes.txt")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_an_existing_empty_directory_is_used(tmp_path: Path) -> None:
    writer = ResultsWriter(tmp_path)
    feed(writer)
    assert {"config.json", "events.jsonl", "summary.json", "summary.csv"} == {
        p.name for p in tmp_path.iterdir()
    }
    assert replay(tmp_path, lambda e: None).status == "done"


def test_aggregate_and_other_write_once_files_never_clobber(tmp_path: Path) -> None:
    target = tmp_path / "aggregate.json"
    target.write_text("earlier")
    with pytest.raises(ResultsError, match="aggregate.json: already exists"):
        write_file(target, "new", replace=False)
    assert target.read_text() == "earlier"
    assert os.listdir(tmp_path) == ["aggregate.json"]  # no temporary file left


# ------------------------------------------------------------------------ links


def test_links_planted_in_the_directory_are_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    out = tmp_path / "run"
    writer = ResultsWriter(out)
    # planted after the directory was claimed: the old fixed temporary names and a summary
    for name in ("config.json.tmp", ".write-test", "summary.json"):
        (out / name).symlink_to(victim)
    with pytest.raises(ResultsError, match="summary.json: already exists"):
        feed(writer, 1)
    assert victim.read_text() == "precious"
    writer.close()


def test_a_summary_swapped_for_a_link_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    out = tmp_path / "run"
    writer = ResultsWriter(out)
    feed(writer, 1)
    (out / "summary.json").unlink()
    (out / "summary.json").symlink_to(victim)
    writer(EpochFinished(1, 10, 10, 0.5, 0.1))
    assert victim.read_text() == "precious"
    assert not (out / "summary.json").is_symlink()
    writer.close()


def test_events_file_is_created_exclusively_without_following_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[int] = []
    real_open = os.open

    def spy(path: object, flags: int, *args: object) -> int:
        if str(path).endswith("events.jsonl"):
            opened.append(flags)
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", spy)
    ResultsWriter(tmp_path / "run").close()
    assert opened and all(f & os.O_EXCL and f & os.O_NOFOLLOW and f & os.O_CREAT for f in opened)


# ------------------------------------------------------------------ durable and tidy


def test_summaries_are_fsynced_before_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(
        os, "replace", lambda a, b: (calls.append(f"replace {Path(b).name}"), real_replace(a, b))[1]
    )
    writer = ResultsWriter(tmp_path / "run")
    feed(writer, 1)
    calls.clear()
    writer(EpochFinished(1, 10, 10, 0.5, 0.1))
    assert calls[:4] == ["fsync", "replace summary.json", "fsync", "replace summary.csv"]
    writer.close()


def test_a_failed_write_names_the_file_and_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    writer = ResultsWriter(out)
    feed(writer, 1)
    before = json.loads((out / "summary.json").read_text())

    def disk_full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", disk_full)
    with pytest.raises(ResultsError) as info:
        writer(EpochFinished(1, 10, 10, 0.5, 0.1))
    assert str(info.value) == f"{out / 'summary.json'}: cannot write (No space left on device)"
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    assert json.loads((out / "summary.json").read_text()) == before  # the last good one stays
    monkeypatch.undo()
    writer.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_parent_is_one_line(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(
            ResultsError, match=r"results directory .*run: cannot create it \(Permission denied\)"
        ):
            ResultsWriter(tmp_path / "run")
    finally:
        tmp_path.chmod(0o700)


def test_a_read_only_file_system_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(*args: object, **kw: object) -> object:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(results_mod.os, "open", read_only)
    with pytest.raises(ResultsError, match=r"events.jsonl: cannot create it \(Read-only file system\)"):
        ResultsWriter(tmp_path / "a" / "run")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []  # the directories it made are gone again


def test_a_run_that_never_started_leaves_nothing_but_a_given_empty_directory(tmp_path: Path) -> None:
    ResultsWriter(tmp_path / "a" / "run").close()  # e.g. a data error before the first event
    assert list(tmp_path.iterdir()) == []
    given = tmp_path / "given"
    given.mkdir()
    writer = ResultsWriter(given)
    feed(writer, 1)
    writer(RunFinished("error", 0, 0.1, "RuntimeError: boom"))  # failed before its first iteration
    assert given.is_dir() and list(given.iterdir()) == []


def test_a_stopped_or_progressed_run_keeps_its_files(tmp_path: Path) -> None:
    writer = ResultsWriter(tmp_path / "run")
    feed(writer, 2)
    writer(RunFinished("error", 5, 0.1, "RuntimeError: boom"))
    assert (tmp_path / "run" / "events.jsonl").is_file()
    assert replay(tmp_path / "run", lambda e: None).status == "error"


# -------------------------------------------------------------------- interrupted


def test_a_stream_without_run_finished_reads_back_as_interrupted(tmp_path: Path) -> None:
    writer = ResultsWriter(tmp_path / "run")
    feed(writer, 7)  # killed here: no run_finished
    live = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert live["status"] == "running"
    summary = replay(tmp_path / "run", lambda e: None)
    assert summary.status == "interrupted"
    assert [m.status for m in summary.members] == ["interrupted", "interrupted", "diverged"]
    writer.close()


# ------------------------------------------------------------------- stream reader


def test_the_valid_stream_reads_back_event_for_event(tmp_path: Path) -> None:
    write_run(tmp_path, "\n".join(lines()) + "\n")
    assert list(read_events(tmp_path)) == events()


def mutate(line_no: int, change: object) -> list[str]:
    out = lines()
    obj = json.loads(out[line_no - 1])
    if callable(change):
        change(obj)
        out[line_no - 1] = json.dumps(obj)
    else:
        out[line_no - 1] = str(change)
    return out


BAD_STREAMS = [
    (mutate(2, lambda o: o.update(iteration="5")), 2, "evaluation: iteration: expected an integer, got '5'"),
    (mutate(2, lambda o: o.update(iteration=True)), 2, "iteration: expected an integer, got True"),
    (mutate(2, lambda o: o.pop("accuracy")), 2, "evaluation: missing field 'accuracy'"),
    (mutate(2, lambda o: o.update(type="teleport")), 2, "unknown event type 'teleport'"),
    (mutate(2, "[1, 2]"), 2, "expected a JSON object, got a list"),
    (mutate(2, "{not json"), 2, "not valid JSON"),
    (mutate(6, lambda o: o.update(member=7)), 6, "member_diverged: member 7 is not one of 0-2"),
    (mutate(6, lambda o: o.update(member=-1)), 6, "member -1 is not one of 0-2"),
    (mutate(2, lambda o: o.update(accuracy=[0.5])), 2, "accuracy has 1 values for 3 members"),
    (
        mutate(4, lambda o: o["members"][0]["layers"][0].update(grad_norm="big")),
        4,
        "members[0].layers[0].grad_norm: expected a number, got 'big'",
    ),
    (mutate(4, lambda o: o["members"].append(None)), 4, "diagnostics: 4 members for 3"),
    (mutate(1, lambda o: o["dataset"].pop("train_size")), 1, "dataset: missing field 'train_size'"),
    (mutate(1, lambda o: o["config"].update(thresholds="0.9")), 1, "config.thresholds: expected a list"),
    (mutate(1, lambda o: o.update(baseline="swish")), 1, "baseline 'swish' is not a member"),
    (
        mutate(10, lambda o: o.update(status="exploded")),
        10,
        "status 'exploded' is not one of done, stopped, error",
    ),
    (lines()[1:], 1, "evaluation before run_started"),
    (lines()[:2] + lines()[:1], 3, "a second run_started"),
    (lines() + lines()[1:2], 11, "evaluation after run_finished"),
    (mutate(3, "[" * 100_000 + "]" * 100_000), 3, f"nested deeper than {MAX_NESTING} levels"),
    (mutate(3, '{"type":"evaluation","x":' + "[" * 40 + "]" * 40 + "}"), 3, "nested deeper than"),
]


@pytest.mark.parametrize("stream,line_no,message", BAD_STREAMS, ids=[m for _, _, m in BAD_STREAMS])
def test_a_damaged_stream_is_one_line_naming_file_and_line(
    tmp_path: Path, stream: list[str], line_no: int, message: str
) -> None:
    write_run(tmp_path, "\n".join(stream) + "\n")
    with pytest.raises(ResultsError) as info:
        replay(tmp_path, lambda e: None)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{tmp_path / 'events.jsonl'} line {line_no}: ")
    assert message in text


def test_non_utf8_bytes_and_overlong_lines(tmp_path: Path) -> None:
    good = [s.encode() for s in lines()]
    write_run(tmp_path, b"\n".join(good[:2] + [b'{"type":"\xff\xfe"}'] + good[2:]) + b"\n")
    with pytest.raises(ResultsError, match=r"line 3: not UTF-8 text \(byte 9\)"):
        list(read_events(tmp_path))
    write_run(tmp_path, b"\n".join(good[:2] + [b" " * (MAX_LINE_BYTES + 10)] + good[2:]) + b"\n")
    with pytest.raises(ResultsError, match=r"line 3: longer than 8 MiB"):
        list(read_events(tmp_path))


def test_a_torn_last_line_is_tolerated_but_not_a_torn_middle_line(tmp_path: Path) -> None:
    write_run(tmp_path, "\n".join(lines(finished=False)) + '\n{"type":"evaluation","itera')
    assert replay(tmp_path, lambda e: None).status == "interrupted"
    write_run(tmp_path, "\n".join(lines(finished=False)) + '\n{"type":"evaluation","itera\n' + lines()[-1])
    with pytest.raises(ResultsError, match="line 8: not valid JSON"):
        replay(tmp_path, lambda e: None)


def test_not_a_run_directory_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (tmp_path / "missing", "no such directory"),
        (write_run(tmp_path / "f", "x") / "events.jsonl", "not a directory"),
        (tmp_path, "not an actlab run, sweep or seeds directory"),  # the one message of open_results
        (write_run(tmp_path / "empty", ""), "holds no events; the run never started"),
    ]
    for directory, message in cases:
        code, err = run_cli(["--batch", "--open", str(directory)], capsys)
        assert code == 2 and err.count("\n") == 1 and message in err, err
