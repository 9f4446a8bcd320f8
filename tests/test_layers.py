"""The import contracts of pyproject.toml ([tool.importlinter]) hold, so `make test` checks them
as `make lint` does: the TUI above experiments above the engine's training core, no textual,
rich or click in the engine, no import cycle in it (function-level imports count). And a
broken contract does fail: the check is not one that always passes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the venv's script, beside its python (not resolved: the venv's python is a link)
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert LINT_IMPORTS.exists(), f"no {LINT_IMPORTS}: install the dev extra (import-linter)"
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def contract_names(pyproject: Path) -> list[str]:
    with pyproject.open("rb") as f:
        return [c["name"] for c in tomllib.load(f)["tool"]["importlinter"]["contracts"]]


def test_the_import_contracts_hold() -> None:
    done = lint_imports(ROOT / "pyproject.toml", ROOT)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    names = contract_names(ROOT / "pyproject.toml")
    assert len(names) >= 4
    for name in names:
        assert f"{name} KEPT" in out, out
    assert f"Contracts: {len(names)} kept, 0 broken." in out, out


def test_a_contract_the_code_breaks_fails(tmp_path: Path) -> None:
    """The project's own configuration plus one contract the code breaks (the TUI builds a
    RunConfig): lint-imports exits non-zero and names it; the others still hold."""
    broken = "the TUI never imports the engine's config"
    config = tmp_path / "pyproject.toml"
    config.write_text(
        (ROOT / "pyproject.toml").read_text()
        + textwrap.dedent(
            f"""
            [[tool.importlinter.contracts]]
            name = "{broken}"
            type = "forbidden"
            source_modules = ["actlab.tui"]
            forbidden_modules = ["actlab.engine.config"]
            """
        )
    )
    done = lint_imports(config, ROOT)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert f"{broken} BROKEN" in out, out
    assert "actlab.tui" in out and "actlab.engine.config" in out, out
    kept = contract_names(ROOT / "pyproject.toml")
    assert f"Contracts: {len(kept)} kept, 1 broken." in out, out


def test_a_cycle_through_a_function_level_import_breaks_the_acyclic_contract(tmp_path: Path) -> None:
    """The engine's "no import cycles" contract type counts an import inside a function (a
    lazy import is still a dependency), as issue 17 asks."""
    pkg = tmp_path / "cyclepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "data.py").write_text("def torch_side():\n    from .ops import ops\n\n    return ops\n")
    (pkg / "ops.py").write_text("from .data import torch_side\n\nops = torch_side\n")
    config = tmp_path / "importlinter.toml"
    config.write_text(
        textwrap.dedent(
            """
            [tool.importlinter]
            root_package = "cyclepkg"

            [[tool.importlinter.contracts]]
            name = "no import cycles in cyclepkg"
            type = "acyclic_siblings"
            ancestors = ["cyclepkg"]
            """
        )
    )
    done = lint_imports(config, tmp_path)  # its working directory is on its import path
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert "no import cycles in cyclepkg BROKEN" in out, out
