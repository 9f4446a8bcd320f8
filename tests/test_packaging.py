"""Every package directory under engine/ and tui/ is listed in pyproject.toml, so a wheel
(not only an editable install) carries the whole app."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_is_installed() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(meta["packages"])
    mapping = meta["package-dir"]
    found = set()
    for top, name in (("engine", "actlab.engine"), ("tui", "actlab.tui")):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top).parts
            found.add(".".join((name, *rel)))
    assert found == listed
    for name in listed:
        assert (ROOT / mapping[name] / "__init__.py").is_file()
