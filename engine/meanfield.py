"""Mean-field signal propagation at initialization (Poole et al. 2016; Schoenholz et al. 2017).

At infinite width, weights N(0, sigma_w^2 / fan_in) and biases N(0, sigma_b^2): the length map
q -> sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2 and its fixed point q*; chi_1 = sigma_w^2
E[phi'(sqrt(q*) z)^2], the per-layer factor of the squared gradient; the correlation map, its
stable fixed point c*, its slope chi_c there and the depth scale xi_c = -1 / ln(chi_c); the
trainable depth ~ 6 xi_c. Plain NumPy: an activation is a `Pair` of NumPy callables (`pair_of`
makes one from a registry or custom `Activation`). Expectations are Gauss-Legendre on [-12, 0]
and [0, 12] with the normal density as weight (`gauss_rule`; "hermite" gives hermegauss's).
docs/theory.md: the formulas, conventions and the verified figures.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss

from .activation_curves import Array
from .activation_lookup import lookup
from .activations import Activation

Fn = Callable[[Array], Array]

NODES = 100  # per half-line (split rule), or in all (hermite rule)
TAIL = 12.0  # the split rule covers z in [-12, 12]: P(|z| > 12) = 4e-33
CRITICAL_TOL = 1e-2  # phase "critical" when |chi_1 - 1| <= this
Q_TOL = 1e-3  # q_depth: the first layer l with |q_l - q*| < Q_TOL q*
MAX_LAYERS = 1000  # the length map is iterated at most this many layers
Q_BIG = 1e12  # q_l beyond this: it diverges
Q_ZERO = 1e-30  # q_l below Q_ZERO q_0: it goes to 0
CUSTOM_RANGE = 6.0  # custom activations are sampled on [-6, 6] (custom.CURVE_Z), clamped beyond
DEPTH_MULTIPLE = 6.0  # trainable depth ~ 6 xi_c (Schoenholz et al. 2017)
DEFAULT_WIDTH = 128  # RunConfig's default width: fan_in = fan_out of the hidden-to-hidden layers
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class _NotFinite(ValueError):
    """An activation not finite where a quadrature needs it (caught: a result's reason)."""


def _checked(fn: Fn, u: Array, what: str) -> Array:
    v = np.broadcast_to(np.asarray(fn(u), dtype=np.float64), u.shape)
    bad = ~np.isfinite(v)
    if bad.any():
        raise _NotFinite(f"{what} is not finite at u = {float(u[bad].flat[0]):.4g}")
    return v


@dataclass(frozen=True)
class Pair:
    """An activation as vectorized float64 NumPy callables phi(u), phi'(u); `known`: the |u| up to
    which phi is known (interpolated customs clamp beyond), None for everywhere."""

    name: str
    phi: Fn = field(repr=False)
    dphi: Fn = field(repr=False)
    known: float | None = None

    def f(self, u: Array) -> Array:
        return _checked(self.phi, u, f"{self.name}: f")

    def df(self, u: Array) -> Array:
        return _checked(self.dphi, u, f"{self.name}: f'")


ActivationLike = Pair | Activation | str  # a registry or lookup spec for str


def pair_of(act: Activation) -> Pair:
    """phi = act.numpy_fn, dphi(z) = act.numpy_derivative(z, act.numpy_fn(z))."""

    def dphi(z: Array) -> Array:
        return act.numpy_derivative(z, act.numpy_fn(z))

    return Pair(act.name, act.numpy_fn, dphi, CUSTOM_RANGE if act.kind == "custom" else None)


def as_pair(activation: ActivationLike) -> Pair:
    """A Pair from itself, an Activation, or a spec `activation_lookup.lookup` knows."""
    if isinstance(activation, Pair):
        return activation
    act = activation if isinstance(activation, Activation) else lookup(activation)
    if act is None:
        raise ValueError(f"activation {activation!r}: not known to this process")
    return pair_of(act)


# ----------------------------------------------------------------------------- quadrature


def _split(at: Array, n: int) -> tuple[Array, Array]:
    """Per entry k of `at`: nodes and weights for E over z ~ N(0, 1) split at k (clipped to
    [-TAIL, TAIL]), n Gauss-Legendre nodes on each piece; shape (len(at), 2n)."""
    t, wt = leggauss(n)
    k = np.clip(at, -TAIL, TAIL)[:, None]
    lo = np.concatenate([np.full_like(k, -TAIL), k], axis=1)[:, :, None]
    hi = np.concatenate([k, np.full_like(k, TAIL)], axis=1)[:, :, None]
    z = lo + (hi - lo) * (t + 1.0) / 2.0
    w = (hi - lo) * wt / 2.0 * np.exp(-0.5 * z * z) * _INV_SQRT_2PI
    return z.reshape(len(at), -1), w.reshape(len(at), -1)


@functools.cache
def gauss_rule(n: int = NODES, rule: str = "split") -> tuple[Array, Array]:
    """Nodes z, weights w with E[g(z)] ~ sum(w g(z)), z ~ N(0, 1). "split": n Gauss-Legendre
    nodes on each of [-12, 0] and [0, 12]; "hermite": hermegauss(n) (probabilists')."""
    if rule == "hermite":
        z, w = hermegauss(n)
        w = w * _INV_SQRT_2PI
    elif rule == "split":
        zs, ws = _split(np.zeros(1), n)
        z, w = zs[0], ws[0]
    else:
        raise ValueError(f"quadrature rule {rule!r}: split or hermite")
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w


def expect(g: Fn, q: float, n: int = NODES, rule: str = "split") -> float:
    """E[g(sqrt(q) z)], z ~ N(0, 1)."""
    z, w = gauss_rule(n, rule)
    return float(w @ g(math.sqrt(q) * z))


def expect2(g: Fn, q: float, c: float, n: int = NODES) -> float:
    """E[g(u1) g(u2)], u1 = sqrt(q) z1, u2 = sqrt(q) (c z1 + sqrt(1 - c^2) z2): split at z1 = 0
    outside and inside at z2 = -c z1 / sqrt(1 - c^2), where u2 = 0."""
    if c >= 1.0:
        return expect(lambda u: g(u) ** 2, q, n)
    s, r = math.sqrt(1.0 - c * c), math.sqrt(q)
    z1, w1 = gauss_rule(n)
    z2, w2 = _split(-c * z1 / s, n)
    return float(np.sum((w1 * g(r * z1))[:, None] * w2 * g(r * (c * z1[:, None] + s * z2))))


def length_map(pair: Pair, q: float, sigma_w2: float, sigma_b2: float, n: int = NODES) -> float:
    """q -> sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2."""
    return sigma_w2 * expect(lambda u: pair.f(u) ** 2, q, n) + sigma_b2


def correlation_map(pair: Pair, c: float, q: float, sw2: float, sb2: float, n: int = NODES) -> float:
    """c -> (sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2) / q, q the fixed point q*."""
    return (sw2 * expect2(pair.f, q, c, n) + sb2) / q


def _d2(pair: Pair, q: float, n: int) -> float:
    return expect(lambda u: pair.df(u) ** 2, q, n)


@dataclass(frozen=True)
class _Length:
    q_star: float  # inf: no finite or no unique fixed point
    path: tuple[float, ...]  # q_0, q_1, ... as iterated
    chi_1: float
    notes: tuple[tuple[str, str], ...]  # ("reason" | "caveat", text)


def _length(pair: Pair, sw2: float, sb2: float, q0: float, n: int) -> _Length:
    notes: list[tuple[str, str]] = []
    path, q_star = [q0], math.nan
    for _ in range(MAX_LAYERS):
        q, qn = path[-1], length_map(pair, path[-1], sw2, sb2, n)
        path.append(qn)
        if qn > Q_BIG:
            q_star = math.inf
            notes.append(("reason", f"q_l grows without bound (past {Q_BIG:.0e} at layer {len(path) - 1})"))
        elif qn <= Q_ZERO * q0:
            q_star = 0.0
        elif abs(qn - q) <= 1e-13 * qn:
            q_star = qn
        if not math.isnan(q_star):
            break
    else:
        if path[-1] > path[-2]:
            q_star = math.inf
            notes.append(("reason", f"q_l still grows after {MAX_LAYERS} layers: no finite fixed point"))
        elif sw2 * float(pair.f(np.zeros(1))[0]) ** 2 + sb2 == 0.0:
            q_star = 0.0
            notes.append(("caveat", f"q_l -> 0 only algebraically (q_{MAX_LAYERS} = {path[-1]:.3g})"))
        else:
            q_star = path[-1]
            notes.append(("caveat", f"q_l had not converged after {MAX_LAYERS} layers"))
    if 0.0 < q_star < math.inf and all(
        abs(length_map(pair, s * q_star, sw2, sb2, n) - s * q_star) <= 1e-9 * s * q_star for s in (0.25, 4.0)
    ):
        q_star = math.inf
        notes.append(("reason", "every q is a fixed point (q_l = q_0 at every layer): q* is not unique"))
    # chi_1 at q*; for q* = 0 in the limit q -> 0+; for no finite q* where the iteration stopped
    q_eval = 1e-12 if q_star == 0.0 else min(path[-1], Q_BIG) if q_star == math.inf else q_star
    e = _d2(pair, q_eval, n)
    if q_star == math.inf and abs(_d2(pair, q_eval / 4.0, n) - e) > 1e-9 * e:
        notes.append(("caveat", f"chi_1 taken at q = {q_eval:.3g}, where the iteration stopped"))
    if pair.known is not None and math.sqrt(q_eval) * TAIL > pair.known:
        k, mass = pair.known, math.erfc(pair.known / math.sqrt(2.0 * q_eval))
        clamp = f"f known on [-{k:g}, {k:g}] only, clamped beyond: sqrt(q*) x max node = "
        notes.append(("caveat", clamp + f"{math.sqrt(q_eval) * TAIL:.3g} (Gaussian mass beyond: {mass:.1e})"))
    return _Length(q_star, tuple(path), sw2 * e, tuple(notes))


def _bisect(h: Callable[[float], float], a: float, b: float) -> float:
    """A root of h in [a, b], h(a) >= 0 > h(b), to 1e-10."""
    while b - a > 1e-10:
        m = 0.5 * (a + b)
        a, b = (m, b) if h(m) >= 0.0 else (a, m)
    return 0.5 * (a + b)


def _c_star(pair: Pair, q: float, sw2: float, sb2: float, n: int) -> float:
    """The stable fixed point c* < 1 of the correlation map when c = 1 is unstable (chi_1 > 1): the
    map is convex, h = map - c is >= 0 on [0, c*), < 0 on (c*, 1); scan up (noise is near c = 1)."""

    def h(c: float) -> float:
        return correlation_map(pair, c, q, sw2, sb2, n) - c

    a, ha = 0.0, h(0.0)
    if ha <= 0.0:
        return 0.0  # h(0) = (sigma_w^2 E[phi]^2 + sigma_b^2) / q >= 0: 0 when phi is odd, sigma_b^2 = 0
    for b in [0.2, 0.4, 0.6, 0.8] + [1.0 - 10.0**-k for k in range(1, 9)]:
        if h(b) < 0.0:
            return _bisect(h, a, b)
        a = b
    return 1.0  # c* within 1e-8 of 1


def _plain(x: object) -> object:
    return None if isinstance(x, float) and not math.isfinite(x) else x


@dataclass(frozen=True)
class MeanField:
    """One activation at one (sigma_w^2, sigma_b^2). q_star: inf without a finite, unique fixed point;
    xi_c, trainable_depth: inf at criticality; NaN (phase "unknown") when a function was not
    finite. reason: why a value is missing or infinite; caveat: how far to trust one."""

    activation: str
    sigma_w2: float
    sigma_b2: float
    q0: float
    q_star: float
    q_depth: int | None  # layers until |q_l - q*| < 1e-3 q*, from q_0
    chi_1: float
    phase: str  # ordered | critical | chaotic | unknown
    c_star: float
    chi_c: float
    xi_c: float
    trainable_depth: float  # 6 xi_c
    reason: str | None = None
    caveat: str | None = None

    def predicted_grad_ratio(self, depth: int) -> float:
        """|grad|^2 at the first hidden layer / at the last, `depth` hidden layers of one width,
        at the fixed point: chi_1^(depth - 1), a factor per hidden-to-hidden weight matrix."""
        if depth < 1:
            raise ValueError(f"depth {depth}: at least 1 hidden layer")
        return self.chi_1 ** (depth - 1)

    def predicted_grad_norm_ratio(self, depth: int) -> float:
        """The same for the norms: chi_1^((depth - 1) / 2)."""
        return math.sqrt(self.predicted_grad_ratio(depth))

    def to_json(self) -> dict[str, object]:
        """Plain data; inf and NaN become None (the reason says why)."""
        return {k: _plain(v) for k, v in dataclasses.asdict(self).items()}


def phase_of(chi_1: float, tol: float = CRITICAL_TOL) -> str:
    if math.isnan(chi_1):
        return "unknown"
    if abs(chi_1 - 1.0) <= tol:
        return "critical"
    return "ordered" if chi_1 < 1.0 else "chaotic"


def _check_args(sigma_w2: float, sigma_b2: float, q0: float) -> None:
    for name, v in (("sigma_w2", sigma_w2), ("sigma_b2", sigma_b2), ("q0", q0)):
        if not (math.isfinite(v) and v >= 0.0) or name == "q0" and v == 0.0:
            raise ValueError(f"{name} {v!r}: must be finite and >= 0 (q0 > 0)")


def mean_field(
    activation: ActivationLike,
    sigma_w2: float,
    sigma_b2: float,
    *,
    q0: float = 1.0,
    n: int = NODES,
    caveat: str | None = None,
) -> MeanField:
    """q*, chi_1, phase, c*, chi_c, xi_c and 6 xi_c for weights N(0, sigma_w2 / fan_in) and
    biases N(0, sigma_b2), the length map iterated from q_0 = q0; `caveat` is put first."""
    _check_args(sigma_w2, sigma_b2, q0)
    pair = as_pair(activation)
    try:
        if pair.known is not None:  # a curve known on a range only: check all of it as well
            u = np.linspace(-pair.known, pair.known, 2401)
            pair.f(u), pair.df(u)
        ln = _length(pair, sigma_w2, sigma_b2, q0, n)
        notes, q_star, chi_1 = list(ln.notes), ln.q_star, ln.chi_1
        if 0.0 < q_star < math.inf:
            c_star = 1.0 if chi_1 <= 1.0 else _c_star(pair, q_star, sigma_w2, sigma_b2, n)
            chi_c = chi_1 if c_star >= 1.0 else sigma_w2 * expect2(pair.df, q_star, c_star, n)
        else:
            c_star, chi_c = 1.0, chi_1
            limit = "the limit sigma_b^2 -> 0+" if q_star == 0.0 else "no finite q*"
            notes.append(("caveat", f"q* = {q_star:g}: c* = 1 and chi_c = chi_1 taken ({limit})"))
    except _NotFinite as e:
        nan = math.nan
        return MeanField(
            pair.name, sigma_w2, sigma_b2, q0, nan, None, nan, "unknown", nan, nan, nan, nan, str(e), caveat
        )
    xi_c = 0.0 if chi_c <= 0.0 else math.inf if chi_c >= 1.0 - 1e-9 else -1.0 / math.log(chi_c)
    if xi_c == math.inf:
        why = "chi_c = 1 (criticality)" if chi_c <= 1.0 + 1e-9 else "chi_c > 1 (no stable c*)"
        notes.append(("reason", f"{why}: xi_c and the trainable depth diverge"))
    q_depth = None
    if 0.0 < q_star < math.inf:
        q_depth = next((i for i, q in enumerate(ln.path) if abs(q - q_star) < Q_TOL * q_star), None)
    elif q_star == 0.0:
        notes.append(("reason", "q* = 0: q_depth (relative to q*) undefined"))
    reasons = [t for k, t in notes if k == "reason"]
    caveats = ([caveat] if caveat else []) + [t for k, t in notes if k == "caveat"]
    return MeanField(
        pair.name, sigma_w2, sigma_b2, q0, q_star, q_depth, chi_1, phase_of(chi_1), c_star, chi_c, xi_c,
        DEPTH_MULTIPLE * xi_c, "; ".join(reasons) or None, "; ".join(caveats) or None,
    )  # fmt: skip


def chi_1(
    activation: ActivationLike, sigma_w2: float, sigma_b2: float, *, q0: float = 1.0, n: int = NODES
) -> float:
    """chi_1 alone (NaN when a function is not finite on the nodes)."""
    _check_args(sigma_w2, sigma_b2, q0)
    try:
        return _length(as_pair(activation), sigma_w2, sigma_b2, q0, n).chi_1
    except _NotFinite:
        return math.nan


def transient_grad_ratio(
    activation: ActivationLike, sigma_w2: float, sigma_b2: float, layers: int, *, q0: float = 1.0
) -> float:
    """Before q reaches q*: prod over l = 0 .. layers-1 of sigma_w^2 E[phi'(sqrt(q_l) z)^2], q_l
    the length map iterated from q_0 = q0 (the squared-gradient factor of `layers` layers)."""
    _check_args(sigma_w2, sigma_b2, q0)
    pair, q, out = as_pair(activation), q0, 1.0
    for _ in range(layers):
        out *= sigma_w2 * _d2(pair, q, NODES)
        q = length_map(pair, q, sigma_w2, sigma_b2)
    return out


# ----------------------------------------------------------------------------- inits

_UNIFORM = "U(-a, a) has variance a^2 / 3"
_SQUARE = "2 fan_in / (fan_in + fan_out), 1 for square layers (fan_in = fan_out = width)"
_INITS: dict[str, tuple[float, str]] = {  # sigma_w^2, note (biases 0 but for "default")
    "xavier_uniform": (1.0, f"U(+-sqrt(6 / (fan_in + fan_out))), {_UNIFORM}: {_SQUARE}"),
    "xavier_normal": (1.0, f"N(0, 2 / (fan_in + fan_out)): {_SQUARE}"),
    "kaiming_uniform": (2.0, f"U(+-sqrt(6 / fan_in)), {_UNIFORM}"),
    "kaiming_normal": (2.0, "N(0, 2 / fan_in)"),
    "lecun_normal": (1.0, "N(0, 1 / fan_in)"),
    "orthogonal": (1.0, "orthogonal rows: unit norm, 1 / fan_in per entry; the model assumes iid Gaussian"),
    "zeros": (0.0, "degenerate: the units of a layer stay identical, no signal or gradient passes"),
}


@dataclass(frozen=True)
class InitVariance:
    """An init scheme as the mean-field model sees it: sigma_w2 = fan_in Var(w), sigma_b2 = Var(b)."""

    scheme: str
    sigma_w2: float
    sigma_b2: float
    note: str


def init_variance(
    scheme: str,
    activation: Activation | None = None,
    *,
    width: int = DEFAULT_WIDTH,
    sigma_w2: float | None = None,
    sigma_b2: float | None = None,
) -> InitVariance:
    """(sigma_w^2, sigma_b^2) of model.init_weight's schemes for a hidden-to-hidden layer (fan_in =
    fan_out = width); "recommended": the activation's; "gaussian": sigma_w2 and sigma_b2 as given."""
    if scheme == "recommended":
        if activation is None:
            raise ValueError("init 'recommended': needs the activation")
        got = init_variance(activation.recommended_init, width=width)
        return dataclasses.replace(got, note=f"recommended for {activation.name}: {got.scheme}, {got.note}")
    if scheme == "gaussian":
        if sigma_w2 is None or sigma_b2 is None:
            raise ValueError("init 'gaussian': needs sigma_w2 and sigma_b2")
        return InitVariance(
            scheme, sigma_w2, sigma_b2, "weights N(0, sigma_w2 / fan_in), biases N(0, sigma_b2)"
        )
    if scheme == "default":
        note = f"torch.nn.Linear: weights and biases U(+-1/sqrt(fan_in)), {_UNIFORM}; fan_in = width {width}"
        return InitVariance(scheme, 1.0 / 3.0, 1.0 / (3.0 * width), note)
    if scheme not in _INITS:
        raise ValueError(f"init {scheme!r}: not one of default, {', '.join(_INITS)}, recommended, gaussian")
    return InitVariance(scheme, _INITS[scheme][0], 0.0, _INITS[scheme][1])


def for_init(
    activation: Activation | str,
    scheme: str,
    *,
    width: int = DEFAULT_WIDTH,
    sigma_w2: float | None = None,
    sigma_b2: float | None = None,
    q0: float = 1.0,
) -> MeanField:
    """`mean_field` at the variances of an init scheme (its note first in the caveat)."""
    act = activation if isinstance(activation, Activation) else lookup(activation)
    iv = init_variance(scheme, act, width=width, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    return mean_field(activation, iv.sigma_w2, iv.sigma_b2, q0=q0, caveat=f"init {iv.scheme}: {iv.note}")


@dataclass(frozen=True)
class DepthPoint:
    """The depth scale at one sigma_w^2: `depths[i]` is multiples[i] x xi_c (inf at criticality,
    NaN when a function was not finite)."""

    sigma_w2: float
    chi_1: float
    phase: str
    xi_c: float
    multiples: tuple[float, ...]
    depths: tuple[float, ...]

    def to_json(self) -> dict[str, object]:
        """Plain data; inf and NaN become None."""
        d = dataclasses.asdict(self)
        return {k: [_plain(x) for x in v] if isinstance(v, tuple) else _plain(v) for k, v in d.items()}


def depth_curve(
    activation: ActivationLike,
    sigma_w2s: Sequence[float],
    sigma_b2: float,
    multiples: Sequence[float] = (DEPTH_MULTIPLE,),
) -> list[DepthPoint]:
    """The trainable-depth curve over sigma_w^2 at one sigma_b^2 (Schoenholz et al. 2017): xi_c and
    each multiple of it at every sigma_w^2, for a sweep's depth x sigma_w2 map to overlay."""
    pair, ks = as_pair(activation), tuple(float(k) for k in multiples)
    out = []
    for w2 in sigma_w2s:
        m = mean_field(pair, float(w2), sigma_b2)
        out.append(DepthPoint(m.sigma_w2, m.chi_1, m.phase, m.xi_c, ks, tuple(k * m.xi_c for k in ks)))
    return out


def critical_sigma_w2(
    activation: ActivationLike, sigma_b2: float, *, lo: float = 0.01, hi: float = 1000.0
) -> float | None:
    """The sigma_w^2 in [lo, hi] where chi_1 = 1 (bisection in log sigma_w^2, chi_1 increasing in
    sigma_w^2); None when chi_1 - 1 does not change sign over [lo, hi]."""
    pair = as_pair(activation)
    a, b = math.log(lo), math.log(hi)
    if not chi_1(pair, lo, sigma_b2) <= 1.0 <= chi_1(pair, hi, sigma_b2):
        return None
    while b - a > 1e-12:
        m = 0.5 * (a + b)
        a, b = (m, b) if chi_1(pair, math.exp(m), sigma_b2) < 1.0 else (a, m)
    return math.exp(0.5 * (a + b))


def phase_diagram(
    activation: ActivationLike, sigma_b2s: Sequence[float], *, lo: float = 0.01, hi: float = 1000.0
) -> list[tuple[float, float | None]]:
    """The critical line: (sigma_b^2, critical sigma_w^2 or None) for each sigma_b^2 given."""
    pair = as_pair(activation)
    return [(float(b2), critical_sigma_w2(pair, float(b2), lo=lo, hi=hi)) for b2 in sigma_b2s]


def _q_star_root(pair: Pair, sw2: float, sb2: float, n: int) -> float:
    """q* found as the stable root of L(q) - q on a log grid, then by bisection: tens of map
    evaluations where iterating the map takes up to MAX_LAYERS near criticality. 0 or inf when
    the map stays below or above the diagonal; 1 when every q is a fixed point (relu, no bias)."""

    def g(q: float) -> float:
        return length_map(pair, q, sw2, sb2, n) - q

    grid = [10.0**k for k in range(-8, 9)]
    values = [g(q) for q in grid]
    if all(abs(v) <= 1e-9 * q for v, q in zip(values, grid)):
        return 1.0
    for (qa, va), (qb, vb) in zip(zip(grid, values), zip(grid[1:], values[1:])):
        if va >= 0.0 > vb:
            a, b = math.log(qa), math.log(qb)
            while b - a > 1e-9:
                m = 0.5 * (a + b)
                a, b = (m, b) if g(math.exp(m)) >= 0.0 else (a, m)
            return math.exp(0.5 * (a + b))
    return math.inf if values[-1] > 0 else 0.0


def critical_line(
    activation: ActivationLike,
    sigma_b2s: Sequence[float],
    *,
    lo: float = 0.01,
    hi: float = 1000.0,
    n: int = 40,
    tol: float = 1e-5,
) -> list[tuple[float, float | None]]:
    """`phase_diagram` to a plot's accuracy, fast enough to draw while a user waits (about a
    second an activation for twenty points): chi_1 from q* as a root (`_q_star_root`), fewer
    nodes, the critical sigma_w^2 to a relative `tol`."""
    pair = as_pair(activation)

    def chi(sw2: float, sb2: float) -> float:
        q = _q_star_root(pair, sw2, sb2, n)
        q = 1e-12 if q == 0.0 else min(q, Q_BIG)
        return sw2 * expect(lambda u: pair.df(u) ** 2, q, n)

    out: list[tuple[float, float | None]] = []
    for b2 in sigma_b2s:
        try:
            if not chi(lo, b2) <= 1.0 <= chi(hi, b2):
                out.append((float(b2), None))
                continue
            a, b = math.log(lo), math.log(hi)
            while b - a > tol:
                m = 0.5 * (a + b)
                a, b = (m, b) if chi(math.exp(m), b2) < 1.0 else (a, m)
            out.append((float(b2), math.exp(0.5 * (a + b))))
        except _NotFinite:
            out.append((float(b2), None))
    return out
