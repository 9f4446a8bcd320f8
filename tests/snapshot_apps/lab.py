"""The lab as the snapshot tests build it: the real app factory, saving nothing.

To look at one by eye, from the repository root:

    python tests/snapshot_apps/lab.py                                  # the start screen
    python tests/snapshot_apps/lab.py tests/fixtures/tui_diverged      # a saved run
"""

from __future__ import annotations

import sys
from pathlib import Path

from actlab.engine import RunConfig
from actlab.tui.app import ActlabApp, create_app

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = Path("tests") / "fixtures"  # relative: the status line shows it, and it must not vary


def lab_app(
    open_dir: str | Path | None = None, config: RunConfig | None = None, theme: str | None = None
) -> ActlabApp:
    """The app at the repository root (so fixture paths are the same on every machine)."""
    app = create_app(config=config, open_dir=str(open_dir) if open_dir else None, save_runs=False)
    if theme:
        app.theme = theme
    return app


if __name__ == "__main__":
    lab_app(sys.argv[1] if len(sys.argv) > 1 else None).run()
