"""The views of saved results as the snapshot tests build them: the real app factory on the
stored sweep of tests/fixtures/tui_sweep (a 2x2 sweep with 3 seeds, made by --batch).

To look at one by eye, from the repository root:

    python tests/snapshot_apps/saved.py tests/fixtures/tui_sweep                  # the sweep
    python tests/snapshot_apps/saved.py "tests/fixtures/tui_sweep/lr=0.2,depth=2"  # a point's seeds
    python tests/snapshot_apps/saved.py tests/fixtures/tui_seeds                  # seeds, validated
"""

from __future__ import annotations

import sys

from actlab.engine.experiments.compare import load_runs
from actlab.tui.app import ActlabApp, create_app

SWEEP = "tests/fixtures/tui_sweep"  # relative: titles show it, and it must not vary
# a seeds run with a validation split (issue 21), made by
#   actlab-tui --batch --preset seed -d sample --seeds 3 --epochs 5 --diagnostics-every 0 \
#       --threads 1 --out tests/fixtures/tui_seeds
SEEDS = "tests/fixtures/tui_seeds"


def saved_app(open_dir: str = SWEEP) -> ActlabApp:
    return create_app(open_dir=open_dir, save_runs=False)


def compare_app(*directories: str) -> ActlabApp:
    return create_app(compare_runs=load_runs(list(directories)), save_runs=False)


if __name__ == "__main__":
    saved_app(sys.argv[1] if len(sys.argv) > 1 else SWEEP).run()
