"""The engine stays UI-free: importing it pulls in no textual, rich or click."""

from __future__ import annotations

import subprocess
import sys


def test_engine_imports_no_ui_packages() -> None:
    code = (
        "import sys, actlab.engine, actlab.engine.train, actlab.engine.results, actlab.engine.report, "
        "actlab.engine.diagnostics\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'click'))\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"engine imported UI modules: {out.stdout.strip()}"
