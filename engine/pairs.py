"""Every pair of contenders, paired by seed, on every measure, with Holm's adjustment over them.

A contender is a member of a comparison repeated over seeds (or, in a sweep, an activation at
its own best point): its figures in each seed (`SeedRuns`). For each pair (a, b) and each
threshold, the per-seed ratio of a's sustained crossing to b's (> 1: b is faster), over the
seeds where both reached it; and the per-seed difference of final accuracy (b's minus a's).
Each is a paired t test (`stats.t_test`), with its 95% interval, the probability that b beats
a (`stats.improvement`) and an effect size. All the tests of one comparison form one family:
Holm's step-down (`stats.holm`) says which are clear, and each test's interval is also given at
the level it was tested at, so the intervals shown are the adjusted ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from . import stats
from .results_model import PairComparison, PairedSpeedup, PairTest, SeedPair, Summary

HOLM_NOTE = (
    "Holm's step-down over the {m} paired tests (every pair x every threshold and final accuracy): "
    "an interval is the 95% t interval widened to the level Holm tested it at, and a difference is "
    "clear when that interval excludes no difference (x1.00, or +0)"
)


@dataclass
class SeedRuns:
    """One contender's figures in each seed of a comparison (every contender lists the same
    seeds in the same order): per threshold its sustained crossing (None: not reached, or
    diverged), and its final test accuracy (None: diverged)."""

    label: str
    seeds: list[int | None]
    sustained: list[list[int | None]]  # [threshold][seed]
    final: list[float | None]  # [seed]
    resolution: int | None = None  # iterations between evaluations: a crossing's uncertainty


def member_runs(summaries: list[Summary], member: int, label: str | None = None) -> SeedRuns:
    """Member `member` of each summary (one per seed) as a contender."""
    first = summaries[0].members[member]
    return SeedRuns(
        label=first.activation if label is None else label,
        seeds=[s.seed for s in summaries],
        sustained=[
            [s.members[member].thresholds[k].sustained for s in summaries]
            for k in range(len(first.thresholds))
        ],
        final=[s.members[member].final_accuracy for s in summaries],
        resolution=summaries[0].eval_every,
    )


Back = Callable[[float], float]  # from the scale a test is on back to the figure's (exp for logs)


def _same(x: float) -> float:
    return x


def _r(x: float | None, digits: int) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, digits)


def _p(x: float) -> float:
    return float(f"{x:.4g}")


def threshold_test(a: SeedRuns, b: SeedRuns, k: int, threshold: float) -> tuple[PairTest, stats.TTest | None]:
    """b against a at threshold k (unadjusted: Holm fills in the rest)."""
    av, bv = a.sustained[k], b.sustained[k]
    both = [(x, y) for x, y in zip(av, bv) if x is not None and y is not None]
    logs = [math.log(x / y) for x, y in both]
    inf = math.inf
    better = stats.improvement(
        [inf if x is None else x for x in av], [inf if y is None else y for y in bv], higher_is_better=False
    )
    test = stats.t_test(logs, resolution_floor(both, a.resolution, b.resolution))
    result = PairTest(
        threshold=threshold,
        seeds=len(av),
        paired=len(logs),
        a_reached=sum(x is not None for x in av),
        b_reached=sum(y is not None for y in bv),
        estimate=_r(math.exp(sum(logs) / len(logs)), 4) if logs else None,
    )
    return _fill(result, test, better, math.exp, 4), test


def resolution_floor(both: list[tuple[int, int]], ea: int | None, eb: int | None) -> float:
    """The spread of per-seed log ratios that evaluating every `ea` (`eb`) iterations alone
    leaves: a crossing seen at iteration c happened somewhere in the last e iterations before
    it (uniform: sd e / sqrt 12, c * (1 +- that) to first order), for each side; the root mean
    square over the seeds. Seeds whose crossings fall on the same evaluations do not make the
    ratio exact."""
    if not both or ea is None or eb is None:
        return 0.0
    var = [((ea / x) ** 2 + (eb / y) ** 2) / 12.0 for x, y in both]
    return math.sqrt(sum(var) / len(var))


def final_test(a: SeedRuns, b: SeedRuns) -> tuple[PairTest, stats.TTest | None]:
    """b's final accuracy against a's, seed by seed (a diverged member has none, and loses)."""
    diffs = [y - x for x, y in zip(a.final, b.final) if x is not None and y is not None]
    better = stats.improvement(
        [-math.inf if x is None else x for x in a.final],
        [-math.inf if y is None else y for y in b.final],
        higher_is_better=True,
    )
    test = stats.t_test(diffs)
    result = PairTest(
        threshold=None,
        seeds=len(a.final),
        paired=len(diffs),
        estimate=_r(sum(diffs) / len(diffs), 5) if diffs else None,
    )
    return _fill(result, test, better, _same, 5), test


def _fill(
    result: PairTest,
    test: stats.TTest | None,
    better: stats.Improvement | None,
    back: Back,
    digits: int,
) -> PairTest:
    if better is not None:
        result.improvement = _r(better.probability, 3)
        result.improvement_low = _r(better.low, 3)
        result.improvement_high = _r(better.high, 3)
    if test is not None:
        low, high = test.interval()
        result.low, result.high = _r(back(low), digits), _r(back(high), digits)
        result.p_value = _p(test.p)
        d = test.effect_size
        result.effect_size = None if d is None else round(d, 2)
    return result


def compare_all(contenders: list[SeedRuns], thresholds: list[float]) -> tuple[list[PairComparison], int]:
    """Every pair (a before b in `contenders`' order) on every measure, adjusted by Holm over
    all their tests; and how many tests the family holds."""
    pairs: list[PairComparison] = []
    family: list[tuple[PairTest, stats.TTest, Back, int]] = []
    for i, a in enumerate(contenders):
        for b in contenders[i + 1 :]:
            pair = PairComparison(a=a.label, b=b.label)
            for k, t in enumerate(thresholds):
                result, test = threshold_test(a, b, k, t)
                pair.thresholds.append(result)
                if test is not None:
                    family.append((result, test, math.exp, 4))
            result, test = final_test(a, b)
            pair.final = result
            if test is not None:
                family.append((result, test, _same, 5))
            pairs.append(pair)
    adjusted, levels = stats.holm([t.p for _, t, _, _ in family])
    for (result, test, back, digits), p_holm, level in zip(family, adjusted, levels):
        low, high = test.interval(level)
        result.adjusted_low, result.adjusted_high = _r(back(low), digits), _r(back(high), digits)
        result.p_holm = _p(p_holm)
        result.level = _p(level)
        result.clear = p_holm <= stats.ALPHA
        result.seeds_to_decide = None if result.clear else test.seeds_to_decide(level)
    return pairs, len(family)


def oriented(test: PairTest, flip: bool) -> PairTest:
    """The test read the other way round (a against b) when `flip`: ratios inverted,
    differences negated, the probability of improvement taken from the other side."""
    if not flip:
        return test

    def inv(x: float | None) -> float | None:
        if x is None:
            return None
        if test.threshold is None:
            return -x
        return None if x == 0 else round(1.0 / x, 4)

    # both are decreasing maps: the new low is the old high's image
    low, high = inv(test.high), inv(test.low)
    alow, ahigh = inv(test.adjusted_high), inv(test.adjusted_low)
    p = test.improvement
    return replace(
        test,
        a_reached=test.b_reached,
        b_reached=test.a_reached,
        estimate=inv(test.estimate),
        low=low,
        high=high,
        adjusted_low=alow,
        adjusted_high=ahigh,
        improvement=None if p is None else round(1 - p, 3),
        improvement_low=None if test.improvement_high is None else round(1 - test.improvement_high, 3),
        improvement_high=None if test.improvement_low is None else round(1 - test.improvement_low, 3),
        effect_size=None if test.effect_size is None else -test.effect_size,
    )


def find(pairs: list[PairComparison], a: str, b: str) -> tuple[PairComparison, bool] | None:
    """The pair of `a` and `b`, and whether it is stored the other way round (b first)."""
    for pair in pairs:
        if (pair.a, pair.b) == (a, b):
            return pair, False
        if (pair.a, pair.b) == (b, a):
            return pair, True
    return None


# ------------------------------------------------------------------ against the baseline
#
# Seeds are paired: within one seed every member starts from the same weights and sees the
# same batches, so the per-seed ratio (baseline's sustained crossing / the member's) removes
# what the seed does to both. Ratios are multiplicative (x2 faster and x2 slower are equally
# far from 1), so the statistics are on their logarithms: the geometric mean and a 95% t
# interval, exponentiated. With the 3-10 seeds one can afford, a percentile bootstrap is too
# narrow (with 3 seeds it has 10 distinct resamples and can never be wider than the data);
# the t interval is honest about few seeds: with 2 it is very wide, as it should be. The table's
# row under each threshold (the slides' "x1.7 faster") is this, one member against the baseline.

INTERVAL_METHOD = "t interval on the log of per-seed ratios (geometric mean), seeds where both reached it"


def paired_speedup(
    summaries: list[Summary], member: int, base: int, k: int, family: PairTest | None = None
) -> PairedSpeedup:
    """One member against the baseline at threshold k, seed by seed.

    Each seed is one of: both reached it (a ratio; faster, slower or a tie), only the member
    reached it (faster, ratio unknown: the baseline never got there in the run), only the
    baseline reached it (slower), neither (no information; a diverged member did not reach
    it). The geometric mean and the interval come from the seeds where both reached it.
    `family`: the same test in the comparison's family (`pairs.compare_all`, read member
    against baseline): whether it is clear, and the interval, follow Holm's adjustment there;
    without it, the 95% interval decides alone."""
    per_seed = []
    counts = {"faster": 0, "slower": 0, "tie": 0, "neither": 0}
    only = {"member": 0, "baseline": 0}
    logs = []
    for s in summaries:
        b = s.members[base].thresholds[k].sustained
        m = s.members[member].thresholds[k].sustained
        ratio = b / m if b is not None and m is not None else None
        per_seed.append(SeedPair(seed=s.seed, baseline=b, member=m, ratio=_round(ratio, 4)))
        if ratio is not None:
            logs.append(math.log(ratio))
            counts["faster" if ratio > 1 else "slower" if ratio < 1 else "tie"] += 1
        elif m is not None:
            counts["faster"] += 1
            only["member"] += 1
        elif b is not None:
            counts["slower"] += 1
            only["baseline"] += 1
        else:
            counts["neither"] += 1
    mean = low = high = None
    if logs:
        mu = sum(logs) / len(logs)
        mean = math.exp(mu)
        if len(logs) >= 2:
            sd = math.sqrt(sum((x - mu) ** 2 for x in logs) / (len(logs) - 1))
            half = stats.t_quantile(0.975, len(logs) - 1) * sd / math.sqrt(len(logs))
            low, high = math.exp(mu - half), math.exp(mu + half)
    clear = None if low is None or high is None else (low > 1 or high < 1)
    adjusted_low, adjusted_high = low, high
    if family is not None and family.clear is not None:
        clear, adjusted_low, adjusted_high = family.clear, family.adjusted_low, family.adjusted_high
    first = summaries[0].members
    result = PairedSpeedup(
        baseline=first[base].activation,
        seeds=len(summaries),
        faster=counts["faster"],
        slower=counts["slower"],
        tie=counts["tie"],
        neither=counts["neither"],
        only_member_reached=only["member"],
        only_baseline_reached=only["baseline"],
        paired=len(logs),
        ratio_mean=_round(mean, 4),
        ratio_low=_round(low, 4),
        ratio_high=_round(high, 4),
        clear=clear,
        per_seed=per_seed,
        adjusted_low=_round(adjusted_low, 4),
        adjusted_high=_round(adjusted_high, 4),
    )
    result.statement = paired_statement(
        first[member].activation, first[member].thresholds[k].threshold, result
    )
    return result


def _x(v: float) -> str:
    return f"{v:.2f}"


def paired_statement(member: str, threshold: float, p: PairedSpeedup) -> str:
    """The comparison as one sentence: "relu reaches 0.9 faster than tanh in 4 of 5 seeds:
    x1.30 [0.90, 1.70]; not a clear difference"."""
    base, n = p.baseline, p.seeds
    if p.neither == n:
        return f"neither {member} nor {base} reaches {threshold:g} in any of {n} seeds"
    word, count = ("faster", p.faster) if p.faster >= p.slower else ("slower", p.slower)
    head = f"{member} reaches {threshold:g} {word} than {base} in {count} of {n} seeds"
    others = []
    if p.tie:
        others.append(f"tied in {p.tie}")
    if p.only_member_reached:
        others.append(f"{base} never reached it in {p.only_member_reached}")
    if p.only_baseline_reached:
        others.append(f"{member} never reached it in {p.only_baseline_reached}")
    if p.neither:
        others.append(f"neither reached it in {p.neither}")
    if others:
        head += f" ({'; '.join(others)})"
    if p.paired == 0 or p.ratio_mean is None:
        return head + ": no seed where both reached it, so no ratio"
    over = (
        ""
        if p.paired == n
        else (
            f" over the {p.paired} seeds both reached it"
            if p.paired > 1
            else " in the one seed both reached it"
        )
    )
    low, high = p.adjusted_low, p.adjusted_high
    if low is None or high is None:
        return head + f": x{_x(p.ratio_mean)}{over}; one seed, no interval"
    word = "not a clear difference"
    if p.clear:
        word = f"clearly {'faster' if p.ratio_mean > 1 else 'slower'}"
    return head + f": x{_x(p.ratio_mean)} [{_x(low)}, {_x(high)}]{over}; {word}"


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, digits)
