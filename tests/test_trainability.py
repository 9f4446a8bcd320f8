"""The trainability map of a depth x sigma_w2 sweep (issue 22): accuracy at each point against the
depth mean-field theory expects to train, in report (a PNG) and the app's sweep view (a tab).

tests/fixtures/tui_trainability was made by

    actlab-tui --batch --preset trainability -a tanh,relu --sweep "depth=4,16,32 sigma_w2=1,1.76,3" \\
        --width 32 --epochs 2 --max-iterations 100 --lr 0.05 --eval-every 50 --diagnostics-every 0 \\
        --threads 1 --out tests/fixtures/tui_trainability
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from actlab.engine.experiments.opened import OpenedSweep, open_results
from actlab.engine.experiments.trainability import has_map, map_rows, trainability_maps
from actlab.engine.meanfield import mean_field

ROOT = Path(__file__).parent.parent
MAP = "tests/fixtures/tui_trainability"


def _opened() -> OpenedSweep:
    opened = open_results(str(ROOT / MAP))
    assert isinstance(opened, OpenedSweep)
    return opened


def test_the_map_is_each_points_final_accuracy_beside_6_xi_c() -> None:
    opened = _opened()
    maps = trainability_maps(opened.results, opened.plan.base)
    assert maps is not None and [m.activation for m in maps] == ["tanh", "relu"]
    for k, m in enumerate(maps):
        assert m.depths == [4, 16, 32] and m.sigma_w2s == [1.0, 1.76, 3.0]
        for d in m.depths:
            for w in m.sigma_w2s:
                summary = json.loads(
                    (ROOT / MAP / f"depth={d},sigma_w2={w:g}" / "seed-0" / "summary.json").read_text()
                )
                assert m.accuracy[d, w] == summary["members"][k]["final_accuracy"]  # one seed: its own
        for w in m.sigma_w2s:  # xi_c straight from the theory at the sweep's sigma_b^2
            assert m.xi_c[w] == pytest.approx(mean_field(m.activation, w, 0.05).xi_c)
        assert m.best_k is not None and m.best_k[0] <= m.best_k[1]
        # the fit is what it says: "trainable iff depth < k xi_c" makes `mistakes` mistakes at k
        k_lo = m.best_k[0]
        cases = [(d, w) for d in m.depths for w in m.sigma_w2s if math.isfinite(m.xi_c[w])]
        assert m.judged == len(cases)
        assert sum((d < k_lo * m.xi_c[w]) != m.trainable(d, w) for d, w in cases) == m.mistakes
    tanh = maps[0]
    assert not tanh.trainable(32, 1.0) and tanh.trainable(32, 1.76)  # deep nets train near criticality
    rows = map_rows(tanh, marks=True)
    assert rows[1][0] == "6 ξc" and rows[-1][1].endswith(">")  # depth 32 beyond 6 xi_c at sigma_w^2 = 1


def test_only_a_depth_by_sigma_w2_sweep_from_gaussian_init_has_a_map() -> None:
    opened = _opened()
    assert has_map(opened.results, opened.plan.base)
    assert not has_map(opened.results, opened.plan.base.replace(init="default"))
    other = open_results(str(ROOT / "tests/fixtures/tui_sweep"))
    assert isinstance(other, OpenedSweep) and trainability_maps(other.results, other.plan.base) is None


def test_report_draws_the_map(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from actlab.engine.experiments.run_report import TRAINABILITY_PNG, write_report

    path = write_report(str(ROOT / MAP), str(tmp_path))
    assert (tmp_path / TRAINABILITY_PNG).stat().st_size > 10_000
    text = path.read_text()
    assert "## Trainability" in text and "fits best at k =" in text
