"""The statistics behind every paired claim: Student's t, Holm's step-down, the probability
of improvement, and how many seeds would decide a difference.

Plain Python (NumPy only inside `improvement`, imported there): the UI process reads results
without PyTorch, and the functions are small enough to check against SciPy in the tests.

Paired by seed: within one seed every member of a comparison starts from the same weights
and sees the same batches, so a per-seed difference removes what the seed does to both. A
ratio of iterations is judged on its logarithm (x2 faster and x2 slower are as far from 1),
an accuracy difference as it is; both by a t interval, honest about few seeds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

ALPHA = 0.05  # the family's error rate: 95% intervals
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20_261_204  # fixed: the same figures give the same interval, on every machine
MAX_SEEDS_TO_DECIDE = 1000


# ------------------------------------------------------------------------------ Student's t


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularized incomplete beta function, evaluated by the
    modified Lentz method (it converges fast for x < (a + 1) / (a + b + 2))."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        # the even step, then the odd one
        num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + num / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + num / c
        c = c if abs(c) > tiny else tiny
        step = d * c
        h *= step
        if abs(step - 1.0) < 1e-15:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularized incomplete beta function, for a, b > 0 and x in [0, 1]."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = a * math.log(x) + b * math.log1p(-x) + math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, df: int) -> float:
    """P(|T| >= |t|) for Student's t with `df` degrees of freedom."""
    if df < 1:
        raise ValueError(f"degrees of freedom {df}: must be >= 1")
    if math.isinf(t):
        return 0.0
    return incomplete_beta(df / 2.0, 0.5, df / (df + t * t))


def t_density(t: float, df: int) -> float:
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(log_c - (df + 1) / 2 * math.log1p(t * t / df))


def t_quantile(p: float, df: int) -> float:
    """The p quantile of Student's t (0.5 < p < 1): Newton's method on the distribution,
    kept inside a bracket that bisection narrows whenever a step would leave it."""
    if not 0.5 < p < 1.0:
        raise ValueError(f"quantile {p}: must be in (0.5, 1)")
    tail = 2.0 * (1.0 - p)  # the two-sided probability beyond the quantile
    low, high = 0.0, 2.0
    while t_two_sided_p(high, df) > tail:
        low, high = high, 2.0 * high
    t = 0.5 * (low + high)
    for _ in range(100):
        excess = tail - t_two_sided_p(t, df)  # > 0: t is past the quantile
        if excess > 0:
            high = t
        else:
            low = t
        step = excess / (2.0 * t_density(t, df))
        nxt = t - step
        if not low < nxt < high:
            nxt = 0.5 * (low + high)
        if abs(nxt - t) <= 1e-13 * max(1.0, t):
            return nxt
        t = nxt
    return t


# ------------------------------------------------------------------------------ a paired t test


@dataclass(frozen=True)
class TTest:
    """A one-sample t test of paired differences (logs of ratios, or accuracy differences)
    against 0: n, mean, sample sd, the two-sided p-value, and a way to an interval."""

    n: int
    mean: float
    sd: float
    p: float

    def interval(self, alpha: float = ALPHA) -> tuple[float, float]:
        """The two-sided (1 - alpha) t interval of the mean."""
        half = t_quantile(1.0 - alpha / 2.0, self.n - 1) * self.sd / math.sqrt(self.n)
        return self.mean - half, self.mean + half

    @property
    def effect_size(self) -> float | None:
        """Cohen's d for paired data (d_z): the mean difference in units of its spread; None
        without spread."""
        return None if self.sd == 0 else self.mean / self.sd

    def seeds_to_decide(self, alpha: float) -> int | None:
        """About how many paired seeds would put the mean outside its (1 - alpha) interval's
        reach of 0 if the mean and the spread stayed as observed; None when no number of seeds
        up to MAX_SEEDS_TO_DECIDE would (or nothing differs)."""
        if self.mean == 0:
            return None
        if self.sd == 0:
            return self.n
        # t's quantile is above the normal's, so no count below (z sd / mean)^2 can do
        z = t_quantile(1.0 - alpha / 2.0, 10**9)
        start = max(2, math.ceil((z * self.sd / abs(self.mean)) ** 2))
        for n in range(start, MAX_SEEDS_TO_DECIDE + 1):
            if t_quantile(1.0 - alpha / 2.0, n - 1) * self.sd / math.sqrt(n) < abs(self.mean):
                return n
        return None


def t_test(differences: Sequence[float], floor: float = 0.0) -> TTest | None:
    """The paired t test of `differences` (one per seed); None for fewer than two. `floor`:
    the least spread the figures can have, whatever they show (what the resolution of the
    measurement alone leaves unknown): seeds that agree to the last evaluation are not taken
    to agree exactly."""
    n = len(differences)
    if n < 2:
        return None
    mean = sum(differences) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in differences) / (n - 1))
    if sd <= 1e-12 * max(1.0, abs(mean)):  # equal values, but for the last bits of their sum
        sd = 0.0
    sd = max(sd, floor)
    if sd == 0:
        p = 1.0 if mean == 0 else 0.0
    else:
        p = t_two_sided_p(mean / (sd / math.sqrt(n)), n - 1)
    return TTest(n, mean, sd, p)


# ------------------------------------------------------------------------------ Holm


def holm(pvalues: Sequence[float], alpha: float = ALPHA) -> tuple[list[float], list[float]]:
    """Holm's step-down over a family of tests: each test's adjusted p-value, and the level
    (alpha / (m - rank + 1)) Holm tested it at. Once a test is not rejected the step-down stops,
    and every later one is held to that same level, so each test's (1 - level) interval
    excludes the null exactly when Holm rejects it (adjusted p <= alpha)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [1.0] * m
    levels = [alpha] * m
    running = 0.0
    stopped_at: float | None = None
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
        level = alpha / (m - rank)
        if stopped_at is None and pvalues[i] > level:
            stopped_at = level
        levels[i] = level if stopped_at is None else stopped_at
    return adjusted, levels


# ------------------------------------------------------------------------------ improvement


@dataclass(frozen=True)
class Improvement:
    """P(B beats A) as rliable defines it (Agarwal et al. 2021): over every pair of runs, one
    of B's and one of A's, the share where B's is better (ties count half); with a percentile
    bootstrap interval over the seeds, resampled in pairs (a seed's two runs go together)."""

    probability: float
    low: float
    high: float


def improvement(a: Sequence[float], b: Sequence[float], higher_is_better: bool) -> Improvement | None:
    """P(b beats a) over paired seeds (a[i], b[i] from seed i); +-inf stand for "never"
    (a threshold not reached: inf iterations), compared like any value. None for no seeds."""
    import numpy as np

    n = len(a)
    if n == 0 or len(b) != n:
        return None
    av, bv = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not higher_is_better:
        av, bv = -av, -bv
    # wins[i, j]: b's run of seed i against a's run of seed j
    wins = (bv[:, None] > av[None, :]) + 0.5 * (bv[:, None] == av[None, :])
    point = float(wins.mean())
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    picks = rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))
    resampled = wins[picks[:, :, None], picks[:, None, :]].mean(axis=(1, 2))
    low, high = np.quantile(resampled, [ALPHA / 2, 1 - ALPHA / 2])
    return Improvement(point, float(low), float(high))
