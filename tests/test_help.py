"""`actlab-tui --help` shows its options in groups, each option once, in a named group."""

from __future__ import annotations

import click
from actlab.tui.cli import HELP_GROUPS, cli
from click.testing import CliRunner


def test_every_option_is_in_one_named_group() -> None:
    named = [name for names in HELP_GROUPS.values() for name in names]
    assert len(named) == len(set(named))  # none in two groups
    params = {p.name for p in cli.params if isinstance(p, click.Option) and not p.hidden}
    assert params == set(named)


def test_help_prints_the_groups_with_their_options() -> None:
    out = CliRunner().invoke(cli, ["--help"], prog_name="actlab-tui").output
    headings = [line[:-1] for line in out.splitlines() if line.endswith(":") and not line.startswith(" ")]
    assert headings[: len(HELP_GROUPS)] == list(HELP_GROUPS)
    section = out.split("With --batch: seeds and sweeps:")[1]
    assert "--sweep" in section and "--resume" in section and "--lr " not in section
    assert "With --batch:" not in out.replace("With --batch: output:", "").replace(
        "With --batch: seeds and sweeps:", ""
    )  # the group says it, not every option
    assert out.count("--max-iterations") == 1
