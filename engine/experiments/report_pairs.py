"""Every pair of contenders and the verdict, as tables and text in every output format.

The pairs table has a row per pair and measure (each threshold, then final accuracy): b against
a with the Holm-adjusted interval, whether Holm calls it clear, the probability of improvement,
the effect size, and roughly how many paired seeds would decide an undecided test. The verdict
is the paragraph `verdict.verdict` generated; here it only gets its heading.
"""

from __future__ import annotations

from actlab.engine.results_model import PairComparison, PairTest, Verdict

from .report import as_text, csv_text

PAIRS_NOTE = (
    "b vs a, paired by seed, on the test split: for a threshold, a's sustained crossing over b's "
    "(x > 1: b is faster), over the seeds where both reached it; for final accuracy, b's minus a's. "
    "P(b better): the probability of improvement (rliable): over every pair of b's and a's seeds, "
    "the share where b is better (a threshold not reached loses to one reached; ties count half), "
    "with a 95% bootstrap interval over seeds. d: the paired effect size (mean over sd of the "
    "per-seed log ratios or differences). To decide: about how many paired seeds would decide an "
    "undecided test at the observed spread."
)


def estimate_text(t: PairTest) -> str:
    """b against a: the estimate with its Holm-adjusted interval, or why there is none."""
    if t.estimate is None:
        if t.threshold is None:
            return "no seed with both"
        a, b = t.a_reached or 0, t.b_reached or 0
        if a == 0 and b == 0:
            return "neither reached it"
        return f"reached: a {a}/{t.seeds}, b {b}/{t.seeds}"
    low, high = t.adjusted_low, t.adjusted_high
    if t.threshold is None:
        span = "" if low is None or high is None else f" [{low:+.4f}, {high:+.4f}]"
        return f"{t.estimate:+.4f}{span}" + ("" if span else " (1 seed)")
    span = "" if low is None or high is None else f" [{low:.2f}, {high:.2f}]"
    return f"x{t.estimate:.2f}{span}" + ("" if span else " (1 seed)")


def holm_text(t: PairTest) -> str:
    if t.clear is None:
        return "not tested"
    p = "" if t.p_holm is None else f", p={t.p_holm:.2g}"
    return ("clear" if t.clear else "undecided") + p


def improvement_text(t: PairTest) -> str:
    if t.improvement is None or t.improvement_low is None or t.improvement_high is None:
        return "-"
    return f"{t.improvement:.2f} [{t.improvement_low:.2f}, {t.improvement_high:.2f}]"


def decide_text(t: PairTest) -> str:
    if t.clear is not False:
        return ""
    return ">1000" if t.seeds_to_decide is None else f"~{t.seeds_to_decide}"


def pair_rows(pairs: list[PairComparison]) -> list[list[str]]:
    rows = [
        [
            "Pair (b vs a)",
            "Measure",
            "b vs a [Holm 95%]",
            "Holm",
            "P(b better) [95%]",
            "d",
            "Seeds",
            "To decide",
        ]
    ]
    for pair in pairs:
        for i, t in enumerate(pair.tests):
            rows.append(
                [
                    pair.name if i == 0 else "",
                    "final accuracy" if t.threshold is None else f"to {t.threshold:g}",
                    estimate_text(t),
                    holm_text(t),
                    improvement_text(t),
                    "-" if t.effect_size is None else f"{t.effect_size:.1f}",
                    f"{t.paired}/{t.seeds}",
                    decide_text(t),
                ]
            )
    return rows


def holm_note(tests: int) -> str:
    if not tests:
        return "No paired test: no measure had two seeds where both had a figure."
    return (
        f"Holm: the {tests} paired tests (every pair x every threshold and final accuracy) adjusted "
        "together by Holm's step-down; each interval is the t interval at the level Holm tested it "
        "at (95% overall), clear when it excludes no difference (x1.00, +0)."
    )


def pairs_text(pairs: list[PairComparison], tests: int, fmt: str) -> str:
    """The pairs table (table or md) with its notes; "" for a single contender."""
    if not pairs:
        return ""
    title = "**Every pair**" if fmt == "md" else "Every pair"
    return title + "\n\n" + as_text(pair_rows(pairs), [PAIRS_NOTE, holm_note(tests)], fmt, left=2)


PAIRS_CSV_COLUMNS = [
    "a",
    "b",
    "threshold",
    "seeds",
    "paired",
    "a_reached",
    "b_reached",
    "estimate",
    "low",
    "high",
    "adjusted_low",
    "adjusted_high",
    "p_value",
    "p_holm",
    "clear",
    "improvement",
    "improvement_low",
    "improvement_high",
    "effect_size",
    "seeds_to_decide",
]


def pairs_csv(pairs: list[PairComparison]) -> str:
    """One row per pair and measure (threshold empty: final accuracy), the columns of
    PAIRS_CSV_COLUMNS; low/high the 95% interval, adjusted_* Holm's."""
    rows: list[list[object]] = [list(PAIRS_CSV_COLUMNS)]
    for pair in pairs:
        for t in pair.tests:
            rows.append(
                [
                    pair.a,
                    pair.b,
                    t.threshold,
                    t.seeds,
                    t.paired,
                    t.a_reached,
                    t.b_reached,
                    t.estimate,
                    t.low,
                    t.high,
                    t.adjusted_low,
                    t.adjusted_high,
                    t.p_value,
                    t.p_holm,
                    t.clear,
                    t.improvement,
                    t.improvement_low,
                    t.improvement_high,
                    t.effect_size,
                    t.seeds_to_decide,
                ]
            )
    return csv_text(rows)


def verdict_text(verdict: Verdict | None, fmt: str) -> str:
    """The verdict paragraph under its heading; "" when there is none."""
    if verdict is None:
        return ""
    return ("**Verdict.** " if fmt == "md" else "Verdict: ") + verdict.text
