"""The trainability map of a depth x sigma_w2 sweep: accuracy after a fixed budget of steps at
each (depth, sigma_w^2), per activation, beside the depth mean-field theory expects to train,
6 xi_c (Schoenholz et al. 2017), and the multiple k of xi_c that bounds the trainable region
best in this map.

A sweep has a map when its axes are depth and sigma_w2 (in either order, nothing else) and it
trains from init gaussian (`--preset trainability`); `report` draws it (report-trainability.png)
and the app's sweep view shows it in its own tab. No PyTorch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from actlab.engine.config import RunConfig
from actlab.engine.meanfield import DEPTH_MULTIPLE, depth_curve
from actlab.engine.results_model import SweepResults

TRAINABLE = 0.5  # final test accuracy above which a point counts as trained (chance is 0.1)
MULTIPLES = tuple(0.25 * i for i in range(1, 81))  # the k tried: 0.25 to 20


@dataclass(frozen=True)
class TrainMap:
    """One activation's map: accuracy[(depth, sigma_w2)] (mean final test accuracy over the
    seeds; None: unfinished or diverged), xi_c at each sigma_w^2, and the multiples k of xi_c
    for which "trainable iff depth < k xi_c" makes the fewest mistakes over the points with a
    finite xi_c (`best_k`, `mistakes`, out of `judged`)."""

    activation: str
    sigma_b2: float
    depths: list[int]
    sigma_w2s: list[float]
    accuracy: dict[tuple[int, float], float | None]
    xi_c: dict[float, float]
    best_k: tuple[float, float] | None  # the range of k with the fewest mistakes
    mistakes: int
    judged: int

    def trainable(self, depth: int, w2: float) -> bool:
        a = self.accuracy.get((depth, w2))
        return a is not None and a > TRAINABLE

    def curve(self, k: float = DEPTH_MULTIPLE, points: int = 80) -> list[tuple[float, float]]:
        """(sigma_w^2, k xi_c) over the swept range of sigma_w^2 on a fine grid (xi_c changes
        fast near criticality), where xi_c is finite."""
        lo, hi = min(self.sigma_w2s), max(self.sigma_w2s)
        grid = [lo + (hi - lo) * i / (points - 1) for i in range(points)] if hi > lo else [lo]
        return [
            (p.sigma_w2, k * p.xi_c)
            for p in depth_curve(self.activation, grid, self.sigma_b2)
            if math.isfinite(p.xi_c) and p.xi_c > 0
        ]


def has_map(results: SweepResults, base: RunConfig) -> bool:
    return base.init == "gaussian" and sorted(n for n, _ in results.axes) == ["depth", "sigma_w2"]


def trainability_maps(results: SweepResults, base: RunConfig) -> list[TrainMap] | None:
    """Every activation's map of the sweep, None when it is no depth x sigma_w2 sweep."""
    if not has_map(results, base):
        return None
    axes = dict(results.axes)
    depths = sorted(int(d) for d in axes["depth"])
    sigmas = sorted(float(w) for w in axes["sigma_w2"])
    maps = []
    for k, act in enumerate(results.activations):
        accuracy: dict[tuple[int, float], float | None] = {}
        for p in results.points:
            key = (int(p.values["depth"]), float(p.values["sigma_w2"]))
            agg = p.aggregate
            accuracy[key] = None if agg is None else agg.members[k].final_accuracy_mean
        xi = {p.sigma_w2: p.xi_c for p in depth_curve(act, sigmas, base.sigma_b2)}
        cases = [
            (d / xi[w], accuracy[d, w] is not None and (accuracy[d, w] or 0.0) > TRAINABLE)
            for d in depths
            for w in sigmas
            if math.isfinite(xi[w]) and xi[w] > 0 and (d, w) in accuracy
        ]
        errors = {m: sum((r < m) != ok for r, ok in cases) for m in MULTIPLES}
        fewest = min(errors.values()) if cases else 0
        best = [m for m in MULTIPLES if errors[m] == fewest] if cases else []
        maps.append(
            TrainMap(
                act,
                base.sigma_b2,
                depths,
                sigmas,
                accuracy,
                xi,
                (best[0], best[-1]) if best else None,
                fewest,
                len(cases),
            )
        )
    return maps


def map_caption(m: TrainMap) -> str:
    """One line: what bounds the trainable region in this map."""
    head = f"{m.activation} at sigma_b^2 = {m.sigma_b2:g}"
    if m.best_k is None:
        return f"{head}: xi_c is infinite at every sigma_w^2 swept, so no multiple of it bounds anything."
    lo, hi = m.best_k
    k = f"{lo:g}" if lo == hi else f"{lo:g} to {hi:g}"
    return (
        f"{head}: 'trainable (accuracy > {TRAINABLE:g}) iff depth < k xi_c' fits best at k = {k} "
        f"({m.mistakes} of {m.judged} points off; the theory says about 6)."
    )


def map_rows(m: TrainMap, marks: bool = False) -> list[list[str]]:
    """The map as rows: a row per depth, a column per sigma_w^2, the 6 xi_c row first; a cell
    is the final accuracy (* trainable); with `marks`, also "<" where the depth is within the
    theory's 6 xi_c there, ">" where it is beyond."""
    rows = [["depth", *[f"σw²={w:g}" for w in m.sigma_w2s]]]
    rows.append(["6 ξc", *[_depth(6 * m.xi_c[w]) for w in m.sigma_w2s]])
    for d in m.depths:
        cells = []
        for w in m.sigma_w2s:
            a = m.accuracy.get((d, w))
            cell = "-" if a is None else f"{a:.2f}" + ("*" if a > TRAINABLE else "")
            if marks:
                cell += " <" if d < 6 * m.xi_c[w] else " >"
            cells.append(cell)
        rows.append([str(d), *cells])
    return rows


def _depth(v: float) -> str:
    return "inf" if math.isinf(v) else "-" if math.isnan(v) else f"{v:.3g}"
