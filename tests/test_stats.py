"""The statistics of every paired claim (issue 21) against independent computations: SciPy for
Student's t and the paired t interval, a hand-written Holm, the probability of improvement by its
definition, and a seeded simulation of the interval's coverage."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from actlab.engine import stats
from actlab.engine.pairs import SeedRuns, compare_all, final_test, threshold_test

scipy_stats = pytest.importorskip("scipy.stats")
scipy_special = pytest.importorskip("scipy.special")


def test_incomplete_beta_and_t_match_scipy() -> None:
    for a, b in [(0.5, 0.5), (1, 0.5), (2.5, 0.5), (15, 0.5), (3, 7), (50, 2)]:
        for x in [1e-6, 0.01, 0.3, 0.5, 0.77, 0.999]:
            assert stats.incomplete_beta(a, b, x) == pytest.approx(scipy_special.betainc(a, b, x), rel=1e-9)
    for df in [1, 2, 3, 4, 7, 29, 30, 31, 100, 10**4]:
        for t in [0.0, 0.3, 1.0, 2.2, 4.0, 12.0, 80.0]:
            assert stats.t_two_sided_p(t, df) == pytest.approx(
                2 * scipy_stats.t.sf(t, df), rel=1e-8, abs=1e-300
            )
        for p in [0.6, 0.9, 0.975, 0.99, 0.9979166, 0.9999]:
            assert stats.t_quantile(p, df) == pytest.approx(scipy_stats.t.ppf(p, df), rel=1e-9)
    with pytest.raises(ValueError):
        stats.t_quantile(0.3, 4)


def test_the_paired_t_interval_matches_scipy() -> None:
    diffs = [0.12, -0.03, 0.2, 0.07, 0.15]
    test = stats.t_test(diffs)
    assert test is not None
    ref = scipy_stats.ttest_1samp(diffs, 0.0)
    assert test.p == pytest.approx(ref.pvalue, rel=1e-9)
    for level in (0.05, 0.01, 0.05 / 12):
        ci = ref.confidence_interval(1 - level)
        assert test.interval(level) == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert test.effect_size == pytest.approx(np.mean(diffs) / np.std(diffs, ddof=1))
    assert stats.t_test([0.3]) is None  # one seed: no test
    same = stats.t_test([0.2, 0.2, 0.2])  # no spread: decided by the mean alone
    assert same is not None and same.p == 0.0 and same.effect_size is None
    none = stats.t_test([0.0, 0.0])
    assert none is not None and none.p == 1.0


def _holm_reference(pvalues: list[float], alpha: float) -> tuple[list[bool], list[float]]:
    """Holm (1979) read off its definition: reject the smallest p-values in turn while
    p_(i) <= alpha / (m - i + 1), and adjusted p_(i) = max over j <= i of (m - j + 1) p_(j)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    rejected = [False] * m
    for rank, i in enumerate(order):
        if pvalues[i] <= alpha / (m - rank):
            rejected[i] = True
        else:
            break
    adjusted = [0.0] * m
    for rank, i in enumerate(order):
        adjusted[i] = min(1.0, max((m - r) * pvalues[order[r]] for r in range(rank + 1)))
    return rejected, adjusted


def test_holm_matches_a_reference_on_fixed_and_random_families() -> None:
    fixed = [0.01, 0.04, 0.03, 0.005]
    adjusted, levels = stats.holm(fixed)
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert levels == pytest.approx([0.05 / 3, 0.025, 0.025, 0.0125])
    rng = random.Random(7)
    for _ in range(300):
        m = rng.randint(1, 15)
        ps = [rng.random() ** rng.choice([1, 3, 8]) for _ in range(m)]
        adjusted, levels = stats.holm(ps)
        rejected, ref = _holm_reference(ps, 0.05)
        assert adjusted == pytest.approx(ref)
        assert [a <= 0.05 for a in adjusted] == rejected
        # each test's level agrees with the decision: p <= level exactly when rejected
        assert [p <= lv for p, lv in zip(ps, levels)] == rejected


def test_holm_intervals_exclude_no_difference_exactly_when_holm_rejects() -> None:
    rng = random.Random(3)
    for _ in range(40):
        runs = []
        for c in range(3):
            sustained = [[int(1000 * math.exp(rng.gauss(0.3 * c, 0.25))) for _ in range(5)]]
            final = [0.9 + 0.01 * c + rng.gauss(0, 0.01) for _ in range(5)]
            runs.append(SeedRuns(f"m{c}", list(range(5)), sustained, final))
        pairs, tests = compare_all(runs, [0.9])
        assert tests == 6
        for pair in pairs:
            for t in pair.tests:
                assert t.adjusted_low is not None and t.adjusted_high is not None and t.p_holm is not None
                null = 1.0 if t.threshold is not None else 0.0
                excludes = t.adjusted_low > null or t.adjusted_high < null
                assert excludes == t.clear == (t.p_holm <= 0.05), (pair.name, t)
                assert t.adjusted_low <= (t.low or 0) and t.adjusted_high >= (t.high or 0)  # wider


def test_the_95_interval_of_a_ratio_covers_the_true_ratio_95_percent_of_the_time() -> None:
    """1,000 synthetic paired seed sets of 5 seeds: per seed a shared seed effect and the true
    ratio 1.5 times log-normal noise; the interval covers 1.5 in 93-97% of the sets."""
    rng = random.Random(20261204)
    true_ratio, covered = 1.5, 0
    for _ in range(1000):
        a, b = [], []
        for _seed in range(5):
            shared = math.exp(rng.gauss(0, 0.3))  # what the seed does to both
            b.append(round(4000 * shared))
            a.append(round(4000 * shared * true_ratio * math.exp(rng.gauss(0, 0.2))))
        result, _ = threshold_test(
            SeedRuns("a", [0] * 5, [a], [None] * 5), SeedRuns("b", [0] * 5, [b], [None] * 5), 0, 0.9
        )
        assert result.low is not None and result.high is not None
        covered += result.low <= true_ratio <= result.high
    assert 930 <= covered <= 970, covered


def test_probability_of_improvement_by_its_definition() -> None:
    a = [100.0, 120.0, 90.0, math.inf, 110.0]  # iterations; inf: never reached
    b = [80.0, 130.0, 90.0, 70.0, math.inf]
    got = stats.improvement(a, b, higher_is_better=False)
    assert got is not None
    wins = sum((y < x) + 0.5 * (y == x) for y in b for x in a)  # every pair of runs, ties half
    assert got.probability == pytest.approx(wins / 25)
    assert got.low <= got.probability <= got.high
    assert stats.improvement(a, b, higher_is_better=False) == got  # seeded: the same interval
    always = stats.improvement([0.5, 0.6, 0.55], [0.9, 0.95, 0.92], higher_is_better=True)
    assert always is not None and (always.probability, always.low, always.high) == (1.0, 1.0, 1.0)


def test_seeds_to_decide_is_the_first_count_whose_interval_clears_zero() -> None:
    test = stats.t_test([0.02, -0.01, 0.03, 0.015, -0.005])
    assert test is not None
    n = test.seeds_to_decide(0.05)
    assert n is not None and n > 5

    def half(k: int) -> float:
        return scipy_stats.t.ppf(0.975, k - 1) * test.sd / math.sqrt(k)

    assert half(n) < abs(test.mean) <= half(n - 1)
    tiny = stats.t_test([0.01, -0.01, 0.0101, -0.01])
    assert tiny is not None and tiny.seeds_to_decide(0.05) is None  # over a thousand


def test_a_final_accuracy_difference_and_a_diverged_member() -> None:
    a = SeedRuns("a", [0, 1, 2], [[None, None, None]], [0.90, 0.91, None])  # diverged in seed 2
    b = SeedRuns("b", [0, 1, 2], [[None, None, None]], [0.92, 0.92, 0.93])
    result, test = final_test(a, b)
    assert result.paired == 2 and result.estimate == pytest.approx(0.015)
    assert test is not None and result.low == pytest.approx(test.interval()[0], abs=1e-5)
    assert result.improvement == pytest.approx(1.0)  # b beats a everywhere, the diverged a too
