"""Threshold tracking (first vs sustained, not reached), speedup and final accuracy."""

from __future__ import annotations

import numpy as np
import pytest
from actlab.engine.events import EpochFinished, Evaluation, MemberDiverged, RunFinished, RunStarted
from actlab.engine.experiments.report import crossing_text, speedup_text, threshold_table
from actlab.engine.metrics import SummaryBuilder, ThresholdTracker
from actlab.engine.results_model import Crossing, Summary


def test_first_and_sustained_crossing() -> None:
    tr = ThresholdTracker(0.9)
    for it, acc in [(10, 0.5), (20, 0.91), (30, 0.89), (40, 0.92), (50, 0.95)]:
        tr.update(it, acc)
    assert tr.first == 20
    assert tr.sustained == 40


def test_a_late_dip_clears_sustained() -> None:
    tr = ThresholdTracker(0.8)
    for it, acc in [(1, 0.85), (2, 0.9), (3, 0.7)]:
        tr.update(it, acc)
    assert tr.first == 1
    assert tr.sustained is None


def test_not_reached() -> None:
    tr = ThresholdTracker(0.95)
    for it, acc in [(1, 0.5), (2, 0.94)]:
        tr.update(it, acc)
    assert tr.first is None and tr.sustained is None
    assert crossing_text(tr.first, tr.sustained) == "not reached"


def test_equal_to_threshold_counts_as_reached() -> None:
    tr = ThresholdTracker(0.8)
    tr.update(5, 0.8)
    assert tr.first == 5 and tr.sustained == 5


def _started(members: list[str], thresholds: list[float]) -> RunStarted:
    return RunStarted(
        config={"thresholds": thresholds, "epochs": 2},
        members=members,
        baseline="sigmoid" if "sigmoid" in members else members[0],
        dataset={"name": "t", "source": "t", "train_size": 1, "test_size": 1, "notice": None},
        device="cpu",
        eval_every=10,
        diagnostics_every=0,
        iterations_per_epoch=20,
        total_iterations=40,
    )


def test_summary_speedup_final_accuracy_and_divergence() -> None:
    b = SummaryBuilder()
    b.feed(_started(["sigmoid", "relu", "identity"], [0.5, 0.9]))
    evals = [
        (10, 1, [0.3, 0.6, 0.4]),
        (20, 1, [0.55, 0.8, 0.5]),
        (30, 2, [0.6, 0.92, None]),
        (40, 2, [0.7, 0.94, None]),
    ]
    b.feed(MemberDiverged(2, "identity", 25))
    for it, ep, acc in evals:
        b.feed(Evaluation(it, ep, acc, acc, acc))
    b.feed(EpochFinished(2, 40, 40, 2.0, 0.5))
    b.feed(RunFinished("done", 40, 3.0))
    s = b.summary()
    sig, relu, ident = s.members
    assert sig.thresholds[0] == Crossing(threshold=0.5, first=20, sustained=20, speedup=1.0)
    assert relu.thresholds[0].sustained == 10
    assert relu.thresholds[0].speedup == 2.0
    assert relu.thresholds[1] == Crossing(threshold=0.9, first=30, sustained=30, speedup=None)
    assert sig.final_accuracy == 0.65  # mean of the last epoch's evaluations
    assert relu.final_accuracy == 0.93
    assert ident.status == "diverged" and ident.diverged_at == 25
    assert ident.final_accuracy is None
    assert sig.status == "done"
    assert s.epoch_time_s == 1.0  # 2 s over 40 iterations, 20 per epoch
    table = threshold_table(s)
    assert "diverged at 25" in table and "x2.0 faster" in table and "not reached" in table


def test_speedup_text() -> None:
    assert speedup_text(1.7, False) == "x1.7 faster"
    assert speedup_text(0.5, False) == "x2.0 slower"
    assert speedup_text(None, False) == "-"
    assert speedup_text(1.0, True) == "baseline"


def test_aggregate_over_seeds() -> None:
    from actlab.engine.experiments.report_sweeps import aggregate_table
    from actlab.engine.metrics import aggregate

    def summary(seed: int, final: float | None, sustained: int | None, status: str = "done") -> Summary:
        th = [{"threshold": 0.9, "first": sustained, "sustained": sustained, "speedup": None}]
        member = {"activation": "relu", "status": status, "final_accuracy": final, "thresholds": th}
        config = {"activations": ["relu"], "thresholds": [0.9], "epochs": 1, "seed": seed}
        return Summary.from_json({"config": config, "members": [member]})

    agg = aggregate([summary(0, 0.90, 100), summary(1, 0.94, 140), summary(2, None, None, "diverged")])
    m = agg.to_json()["members"][0]
    assert agg.seeds == [0, 1, 2] and agg.runs == 3
    assert m["final_accuracy_mean"] == 0.92 and m["final_accuracy_std"] == round(0.02 * 2**0.5, 5)
    assert m["thresholds"][0] == {
        "threshold": 0.9,
        "sustained_mean": 120.0,
        "sustained_std": 28.3,
        "reached": 2,
        "vs_baseline": None,  # no baseline named in these summaries
    }
    assert m["diverged"] == 1
    text = aggregate_table(agg)
    assert "120 ± 28 (2/3)" in text and "0.9200 ± 0.0283" in text and "1/3" in text


def _seeded(seed: int, crossings: dict[str, int | None], status: str = "done") -> Summary:
    """A summary with one threshold (0.9) and sigmoid as the baseline."""
    members = [
        {
            "activation": a,
            "status": status,
            "final_accuracy": 0.9,
            "thresholds": [{"threshold": 0.9, "first": x, "sustained": x, "speedup": None}],
        }
        for a, x in crossings.items()
    ]
    config = {"activations": list(crossings), "thresholds": [0.9], "epochs": 1, "seed": seed}
    return Summary.from_json({"config": config, "baseline": "sigmoid", "members": members})


def test_paired_speedup_against_an_independent_computation() -> None:
    """Geometric mean and t interval of the per-seed ratios, computed here with numpy/scipy."""
    from actlab.engine.metrics import aggregate

    stats = pytest.importorskip("scipy.stats")
    base, relu = [105, 110, 60, 120, 102], [100, 100, 100, 100, 100]
    seeded = [_seeded(i, {"sigmoid": b, "relu": r}) for i, (b, r) in enumerate(zip(base, relu))]
    agg = aggregate(seeded).to_json()
    assert agg["baseline"] == "sigmoid" and "t interval" in agg["interval"]["method"]
    assert agg["members"][0]["thresholds"][0]["vs_baseline"] is None  # the baseline itself
    p = agg["members"][1]["thresholds"][0]["vs_baseline"]
    logs = np.log(np.array(base) / np.array(relu))
    lo, hi = stats.t.interval(0.95, len(logs) - 1, loc=logs.mean(), scale=stats.sem(logs))
    assert p["ratio_mean"] == pytest.approx(np.exp(logs.mean()), abs=1e-4)
    assert (p["ratio_low"], p["ratio_high"]) == pytest.approx((np.exp(lo), np.exp(hi)), abs=1e-3)
    assert (p["faster"], p["slower"], p["tie"], p["neither"], p["paired"]) == (4, 1, 0, 0, 5)
    assert [s["ratio"] for s in p["per_seed"]] == [1.05, 1.1, 0.6, 1.2, 1.02]
    assert p["clear"] is False  # the interval holds 1
    # two tests in the family (the ratio, and final accuracy: 0.9 in every seed, p = 1): Holm
    # stops at the first, so both are held to 0.05 / 2, a 97.5% interval
    lo2, hi2 = stats.t.interval(1 - 0.05 / 2, len(logs) - 1, loc=logs.mean(), scale=stats.sem(logs))
    assert (p["adjusted_low"], p["adjusted_high"]) == pytest.approx((np.exp(lo2), np.exp(hi2)), abs=1e-3)
    assert p["statement"] == (
        f"relu reaches 0.9 faster than sigmoid in 4 of 5 seeds: x{p['ratio_mean']:.2f} "
        f"[{p['adjusted_low']:.2f}, {p['adjusted_high']:.2f}]; not a clear difference"
    )


def test_paired_speedup_counts_seeds_where_one_or_neither_reached() -> None:
    from actlab.engine.experiments.report_sweeps import aggregate_table
    from actlab.engine.metrics import aggregate

    runs = [
        {"sigmoid": 100, "relu": 50},
        {"sigmoid": 120, "relu": 55},
        {"sigmoid": 110, "relu": 50},
        {"sigmoid": None, "relu": 60},  # only relu: faster, no ratio
        {"sigmoid": 90, "relu": None},  # only sigmoid: slower
        {"sigmoid": None, "relu": None},  # neither: no information
    ]
    agg = aggregate([_seeded(i, c) for i, c in enumerate(runs)]).to_json()
    p = agg["members"][1]["thresholds"][0]["vs_baseline"]
    assert (p["faster"], p["slower"], p["neither"], p["paired"]) == (4, 1, 1, 3)
    assert (p["only_member_reached"], p["only_baseline_reached"]) == (1, 1)
    assert p["clear"] is True and p["ratio_low"] > 1
    assert p["statement"].startswith(
        "relu reaches 0.9 faster than sigmoid in 4 of 6 seeds (sigmoid never reached it in 1; "
        "relu never reached it in 1; neither reached it in 1): x2."
    )
    assert p["statement"].endswith("over the 3 seeds both reached it; clearly faster")
    one = aggregate([_seeded(0, {"sigmoid": 100, "relu": 50}), _seeded(1, {"sigmoid": None, "relu": None})])
    q = one.to_json()["members"][1]["thresholds"][0]["vs_baseline"]
    assert q["ratio_low"] is None and q["clear"] is None
    assert q["statement"].endswith("; one seed, no interval")
    none = aggregate([_seeded(i, {"sigmoid": None, "relu": None}) for i in range(3)])
    r = none.to_json()["members"][1]["thresholds"][0]["vs_baseline"]
    assert r["statement"] == "neither relu nor sigmoid reaches 0.9 in any of 3 seeds"
    slow = aggregate([_seeded(i, {"sigmoid": 50, "relu": 100 + i}) for i in range(3)])
    s = slow.to_json()["members"][1]["thresholds"][0]["vs_baseline"]
    assert s["statement"].startswith("relu reaches 0.9 slower than sigmoid in 3 of 3 seeds: x0.")
    assert s["statement"].endswith("clearly slower")
    text = aggregate_table(slow)
    assert "baseline" in text and "x0.50 [0.48, 0.51]" in text and "clearly slower" in text
