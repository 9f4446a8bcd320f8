"""The choice and the verdict: which contender to recommend, chosen on the validation split, and
what the test split says of it, in words generated from the figures.

One rule chooses everywhere (the best learning rate, the sweep's winners, the verdict): the
highest threshold some contender reaches in every seed decides, and the fewest iterations to
it wins (ties by final accuracy); when none reaches any threshold in every seed, the highest
final accuracy wins. It reads the validation split's figures; a run without one (an older
actlab, or `--validation 0`) is chosen on test, and every choice says which.

The verdict (`verdict`) is one paragraph: the recommendation and why, each claim against the
others with its Holm-adjusted interval on test, a warning where test contradicts the choice,
what is undecided, and roughly how many paired seeds would decide the closest undecided test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .pairs import find, oriented
from .results_model import Aggregate, AggregateMember, PairComparison, PairTest, Verdict

MAX_LISTED = 4  # undecided tests named in the paragraph (all of them are in Verdict.undecided)


@dataclass(frozen=True)
class Standing:
    """A contender's figures on the split a choice is made on, over `seeds` seeds: per
    threshold the seeds that reached it (sustained) and the mean crossing over those, and the
    mean final accuracy (None: none)."""

    label: str
    seeds: int
    reached: Sequence[int]
    sustained: Sequence[float | None]
    final: float | None


def standing(m: AggregateMember, seeds: int, split: str, label: str | None = None) -> Standing:
    """An aggregate member on `split` (validation or test)."""
    name = m.activation if label is None else label
    if split == "validation":
        return Standing(
            name,
            seeds,
            [t.val_reached or 0 for t in m.thresholds],
            [t.val_sustained_mean for t in m.thresholds],
            m.val_final_accuracy_mean,
        )
    return Standing(
        name,
        seeds,
        [t.reached for t in m.thresholds],
        [t.sustained_mean for t in m.thresholds],
        m.final_accuracy_mean,
    )


def split_of(agg: Aggregate) -> str:
    """Where an aggregate's choices are made: validation when every seed measured it."""
    measured = agg.validation_size is not None and agg.validation_size > 0
    if measured and all(t.val_reached is not None for m in agg.members for t in m.thresholds):
        return "validation"
    return "test"


def ranking(standings: Sequence[Standing]) -> tuple[list[int], int | None]:
    """The contenders best first by the one rule, and the threshold index that decided (None:
    final accuracy decided). Contenders with no figure at all come last."""
    full = [
        k
        for k in range(len(standings[0].reached) if standings else 0)
        if any(s.reached[k] == s.seeds and s.sustained[k] is not None for s in standings)
    ]
    top = max(full) if full else None

    def key(i: int) -> tuple[int, float, float]:
        s = standings[i]
        final = -(s.final if s.final is not None else -1.0)
        if top is not None and s.reached[top] == s.seeds and s.sustained[top] is not None:
            return (0, float(s.sustained[top] or 0.0), final)
        return (1 if s.final is not None else 2, 0.0, final)

    return sorted(range(len(standings)), key=key), top


def choose(standings: Sequence[Standing]) -> tuple[int | None, int | None]:
    """The best contender's index (None: no figures at all) and the threshold that decided."""
    if not standings:
        return None, None
    order, top = ranking(standings)
    best = standings[order[0]]
    if top is None and best.final is None:
        return None, None
    return order[0], top


# ------------------------------------------------------------------------------ words


def _ratio(t: PairTest) -> str:
    """'x1.52 [1.21, 1.91] faster' (b against a), the interval Holm-adjusted."""
    est, low, high = t.estimate, t.adjusted_low, t.adjusted_high
    assert est is not None
    if est >= 1:
        span = "" if low is None or high is None else f" [{low:.2f}, {high:.2f}]"
        return f"x{est:.2f}{span} faster"
    span = "" if low is None or high is None or low == 0 else f" [{1 / high:.2f}, {1 / low:.2f}]"
    return f"x{1 / est:.2f}{span} slower"


def _decided(t: PairTest) -> str:
    return "clear" if t.clear else "undecided"


def threshold_claim(t: PairTest, other: str, me: str) -> str:
    """What test says of `me` (b) against `other` (a) at one threshold."""
    th = f"{t.threshold:g}"
    if t.clear is not None and t.estimate is not None:
        return f"it reaches {th} {_ratio(t)} ({_decided(t)})"
    mine, theirs, n = t.b_reached or 0, t.a_reached or 0, t.seeds
    if mine == 0 and theirs == 0:
        return f"neither reaches {th}"
    head = f"it reaches {th} in {mine} of {n} seeds, {other} in {theirs or 'none'}"
    if t.improvement is not None and t.improvement_low is not None and t.improvement_high is not None:
        head += f" (P({me} first) {t.improvement:.2f} [{t.improvement_low:.2f}, {t.improvement_high:.2f}])"
    return head


def final_claim(t: PairTest) -> str:
    if t.estimate is None:
        return "no seed where both have a final accuracy"
    if t.clear is None or t.adjusted_low is None or t.adjusted_high is None:
        return f"its final accuracy differs by {t.estimate:+.4f} (one seed: no interval)"
    span = f"[{t.adjusted_low:+.4f}, {t.adjusted_high:+.4f}]"
    return f"its final accuracy differs by {t.estimate:+.4f} {span} ({_decided(t)})"


def _split_words(split: str, validation_size: int | None) -> str:
    if split == "validation":
        return f"the validation split ({validation_size} images)"
    return "the test split (no validation split was measured, so the choice and the claims share it)"


def _choice_sentence(
    standings: Sequence[Standing], order: list[int], top: int | None, thresholds: Sequence[float], where: str
) -> str:
    best = standings[order[0]]
    if top is not None:
        n = best.sustained[top]
        head = (
            f"{best.label} is recommended under these settings: on {where} it is the fastest to "
            f"{thresholds[top]:g} (mean {n:.0f} iterations, {best.reached[top]} of {best.seeds} seeds)"
        )
        nxt = [standings[i] for i in order[1:] if standings[i].reached[top] == standings[i].seeds]
        if nxt:
            head += f", ahead of {nxt[0].label} ({nxt[0].sustained[top]:.0f})"
        behind = [standings[i].label for i in order[1:] if standings[i].reached[top] < standings[i].seeds]
        if behind:
            head += (
                f"; {join_words(behind)} {'does' if len(behind) == 1 else 'do'} not reach it in every seed"
            )
        return head + "."
    head = (
        f"{best.label} is recommended under these settings: no contender reaches a threshold in every "
        f"seed on {where}, and it has the highest final accuracy there ({best.final:.4f}"
    )
    nxt = [standings[i] for i in order[1:] if standings[i].final is not None]
    return head + (f", ahead of {nxt[0].label} {nxt[0].final:.4f})." if nxt else ").")


def join_words(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _test_name(pair: PairComparison, t: PairTest) -> str:
    return f"{pair.name} {_on(t)}"


def _on(t: PairTest) -> str:
    return "on final accuracy" if t.threshold is None else f"at {t.threshold:g}"


def _undecided_text(undecided: list[tuple[PairComparison, PairTest]]) -> str:
    """'relu vs tanh at 0.8 and on final accuracy; tanh vs sigmoid at 0.95', at most
    MAX_LISTED tests named."""
    groups: dict[str, list[str]] = {}
    for pair, t in undecided[:MAX_LISTED]:
        groups.setdefault(pair.name, []).append(_on(t))
    text = "; ".join(f"{name} {join_words(ons)}" for name, ons in groups.items())
    more = len(undecided) - MAX_LISTED
    return text + (f"; and {more} more" if more > 0 else "")


def verdict(
    standings: Sequence[Standing],
    pairs: list[PairComparison],
    tests: int,
    thresholds: Sequence[float],
    split: str,
    validation_size: int | None,
    seeds: int,
    preface: str = "",
) -> Verdict:
    """The paragraph over contenders (`standings`, on `split`) and their `pairs` (on test)."""
    best_index, top = choose(standings)
    where = _split_words(split, validation_size)
    if best_index is None:
        text = (preface + " " if preface else "") + "No verdict: no contender has a figure to choose by."
        return Verdict(text=text.strip(), recommended=None, chosen_on=split, threshold=None)
    order, _ = ranking(standings)
    best = standings[best_index]
    parts = [preface] if preface else []
    parts.append(_choice_sentence(standings, order, top, thresholds, where))
    claims: list[str] = []
    beaten: dict[str, list[str]] = {}  # who beats the choice on test, clearly, and where
    unsettled: str | None = None  # the runner-up, when nothing puts the choice clearly ahead of it
    for i in order[1:]:
        other = standings[i].label
        found = find(pairs, other, best.label)
        if found is None:
            continue
        pair, flip = found
        claim = []
        if top is not None:
            claim.append(threshold_claim(oriented(pair.thresholds[top], flip), other, best.label))
        if pair.final is not None:
            claim.append(final_claim(oriented(pair.final, flip)))
        ahead = [
            o
            for o in (oriented(t, flip) for t in pair.tests)
            if o.clear and o.estimate is not None and o.estimate > (1 if o.threshold is not None else 0)
        ]
        if i == order[1] and not ahead and seeds >= 2 and tests:
            unsettled = other
        claims.append(
            f"Against {other}{' on the test split' if not claims else ''}, " + ", and ".join(claim) + "."
        )
        for t in pair.tests:
            o = oriented(t, flip)
            worse = (
                o.clear
                and o.estimate is not None
                and (o.estimate < 1 if o.threshold is not None else o.estimate < 0)
            )
            if worse:
                on = "on final accuracy" if o.threshold is None else f"to {o.threshold:g}"
                beaten.setdefault(other, []).append(on)
    parts += claims
    against = [f"{other} clearly beats {best.label} {join_words(ons)}" for other, ons in beaten.items()]
    if against:
        parts.append(
            f"But on the test split {join_words(against)}: the choice made on validation does not "
            "carry over there."
        )
    if unsettled is not None and not against:
        parts.append(
            f"Nothing on test puts {best.label} clearly ahead of {unsettled}: on this evidence the two "
            "are not told apart, and either would do."
        )
    undecided = [(pair, t) for pair in pairs for t in pair.tests if t.clear is False]
    names = [_test_name(p, t) for p, t in undecided]
    closest: tuple[PairComparison, PairTest] | None = None
    if seeds < 2:
        parts.append(
            f"With one seed there are no paired intervals; run {'it' if not preface else 'the sweep'} "
            "with --seeds 3 or more to put intervals on these figures."
        )
    elif not tests:
        parts.append(
            "No paired test was possible: no measure had two seeds where both contenders had a figure."
        )
    elif not undecided:
        parts.append(
            "The one paired test is decided." if tests == 1 else f"All {tests} paired tests are decided."
        )
    else:
        parts.append(f"Undecided: {_undecided_text(undecided)}.")
        decidable = [(p, t) for p, t in undecided if t.seeds_to_decide is not None]
        if decidable:
            closest = min(decidable, key=lambda pt: (pt[1].seeds_to_decide or 0, pt[1].p_value or 1.0))
            n = closest[1].seeds_to_decide
            parts.append(
                f"About {n} paired seeds ({seeds} now) would decide the closest, {_test_name(*closest)}, "
                "if its spread stays as observed."
            )
        else:
            parts.append(
                "None of them would be decided by 1,000 paired seeds at the observed spread: "
                "the differences are small against it."
            )
    if tests:
        over = "one paired test" if tests == 1 else f"{tests} paired tests"
        parts.append(f"(Intervals: 95%, Holm-adjusted over {over}.)")
    return Verdict(
        text=" ".join(parts),
        sentences=parts,
        recommended=best.label,
        chosen_on=split,
        threshold=None if top is None else thresholds[top],
        undecided=names,
        closest=None if closest is None else _test_name(*closest),
        seeds_to_decide=None if closest is None else closest[1].seeds_to_decide,
    )
