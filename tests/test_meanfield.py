"""Mean-field signal propagation at initialization (engine/meanfield.py): closed forms, the
quadrature's convergence, the figures of Poole et al. 2016 / Schoenholz et al. 2017 the issue
quotes (docs/theory.md has the table), init schemes, custom activations, and an independent
check against scipy's adaptive quadrature."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pytest
from actlab.engine import meanfield as mf
from actlab.engine.activation_lookup import from_description
from actlab.engine.activations import ACTIVATIONS
from actlab.engine.events import ActivationDescription
from scipy.integrate import dblquad, quad

HE = (2.0, 0.0)
TANH_B2 = 0.05


def _custom(f: np.ndarray, df: np.ndarray, z: np.ndarray) -> ActivationDescription:
    return ActivationDescription(
        name="./acts.py:f",
        max_derivative=1.0,
        output_range="(-inf, inf)",
        zero_centred=True,
        saturating=True,
        can_die=False,
        z=[float(v) for v in z],
        f=[float(v) for v in f],
        df=[float(v) for v in df],
    )


Z = np.linspace(-6.0, 6.0, 241)
CUSTOM_TANH = from_description(_custom(np.tanh(Z), 1.0 - np.tanh(Z) ** 2, Z))


# ----------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize("q", [0.01, 0.3, 1.0, 7.5, 400.0])
def test_relu_moments_are_exact_at_the_kink(q: float) -> None:
    relu = mf.as_pair("relu")
    assert mf.expect(lambda u: relu.f(u) ** 2, q) == pytest.approx(q / 2, rel=1e-13)
    assert mf.expect(lambda u: relu.df(u) ** 2, q) == pytest.approx(0.5, rel=1e-13)


@pytest.mark.parametrize("c", [0.0, 0.3, 0.7, 0.95, 0.999])
def test_relu_cross_moments_match_the_arccos_kernel(c: float) -> None:
    # Cho & Saul: E[relu(u1) relu(u2)] = q (sqrt(1 - c^2) + (pi - arccos c) c) / (2 pi),
    # E[step(u1) step(u2)] = (pi - arccos c) / (2 pi); the kink of u2 lies across the grid
    relu, q = mf.as_pair("relu"), 1.7
    theta = math.acos(c)
    assert mf.expect2(relu.f, q, c) == pytest.approx(
        q * (math.sin(theta) + (math.pi - theta) * c) / (2 * math.pi)
    )
    assert mf.expect2(relu.df, q, c) == pytest.approx((math.pi - theta) / (2 * math.pi), rel=1e-10)


def test_relu_with_he_init_is_critical_with_no_unique_q_star() -> None:
    r = mf.mean_field("relu", *HE)
    assert r.chi_1 == pytest.approx(1.0, abs=1e-12)
    assert r.phase == "critical"
    assert r.q_star == math.inf and r.xi_c == math.inf and r.trainable_depth == math.inf
    out = r.to_json()
    assert out["q_star"] is None and out["xi_c"] is None and out["trainable_depth"] is None
    assert out["chi_1"] == pytest.approx(1.0)
    assert r.reason is not None and "not unique" in r.reason and "diverge" in r.reason
    assert "\n" not in r.reason
    json.dumps(out, allow_nan=False)


def test_relu_length_map_fixed_point_and_its_depth() -> None:
    # q_l = sigma_w^2 q_{l-1} / 2 + sigma_b^2: q* = 0.2, |q_l - q*| = 0.8 / 2^l < 2e-4 from l = 12
    r = mf.mean_field("relu", 1.0, 0.1)
    assert r.q_star == pytest.approx(0.2, rel=1e-12)
    assert r.q_depth == 12
    assert r.chi_1 == pytest.approx(0.5) and r.phase == "ordered"
    assert r.c_star == 1.0 and r.xi_c == pytest.approx(-1 / math.log(0.5))


def test_relu_beyond_he_grows_without_bound() -> None:
    r = mf.mean_field("relu", 3.0, 0.0)
    assert r.q_star == math.inf and r.chi_1 == pytest.approx(1.5) and r.phase == "chaotic"
    assert r.reason is not None and "without bound" in r.reason


@pytest.mark.parametrize("w2, b2", [(0.5, 0.1), (0.9, 0.0), (1.0, 0.0), (2.0, 0.1)])
def test_identity_has_chi_1_sigma_w2(w2: float, b2: float) -> None:
    r = mf.mean_field("identity", w2, b2)
    assert r.chi_1 == pytest.approx(w2, rel=1e-12)
    if w2 < 1.0:
        assert r.q_star == pytest.approx(b2 / (1 - w2), abs=1e-12)
    else:
        assert r.q_star == math.inf


def test_zero_weights_are_degenerate() -> None:
    r = mf.for_init("tanh", "zeros")
    assert r.chi_1 == 0.0 and r.xi_c == 0.0 and r.predicted_grad_ratio(3) == 0.0
    assert r.caveat is not None and "degenerate" in r.caveat


# ----------------------------------------------------------------------------- quadrature


SETTINGS = [(1 / 3, 1 / 384), (1.0, 0.05), (1.761, 0.05), (4.0, 0.1), (103.0, 0.0)]


@pytest.mark.parametrize("name", ["tanh", "relu", "sigmoid", "gelu", "silu"])
def test_doubling_the_nodes_changes_chi_1_by_less_than_1e_6(name: str) -> None:
    for w2, b2 in SETTINGS:
        assert abs(mf.chi_1(name, w2, b2, n=2 * mf.NODES) - mf.chi_1(name, w2, b2)) < 1e-6, (w2, b2)


def test_plain_gauss_hermite_fails_where_the_split_rule_does_not() -> None:
    # sigmoid at its critical point: q* = 46, so sigmoid'(sqrt(q*) z)^2 is a bump of width 0.15
    # in z, between hermegauss(100)'s central nodes (docs/theory.md)
    sig = mf.as_pair("sigmoid")
    q = mf.mean_field("sigmoid", 103.0, 0.0).q_star
    assert q == pytest.approx(45.6, abs=0.1)

    def g(u: np.ndarray) -> np.ndarray:
        return sig.df(u) ** 2

    ref = quad(lambda z: float(g(np.array(math.sqrt(q) * z))) * math.exp(-z * z / 2), -12, 12, points=[0])
    ref_e = ref[0] / math.sqrt(2 * math.pi)
    assert mf.expect(g, q) == pytest.approx(ref_e, rel=1e-10)
    assert abs(mf.expect(g, q, rule="hermite") / ref_e - 1) > 0.01
    # at moderate q the two rules agree
    tanh = mf.as_pair("tanh")
    assert mf.expect(lambda u: tanh.df(u) ** 2, 0.57, rule="hermite") == pytest.approx(
        mf.expect(lambda u: tanh.df(u) ** 2, 0.57), rel=1e-9
    )


def test_against_scipy_adaptive_quadrature_in_the_chaotic_phase() -> None:
    w2, b2 = 2.5, TANH_B2
    r = mf.mean_field("tanh", w2, b2)

    def g(z: float) -> float:
        return math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    q, c = r.q_star, r.c_star
    assert w2 * quad(lambda z: math.tanh(math.sqrt(q) * z) ** 2 * g(z), -12, 12)[0] + b2 == pytest.approx(q)
    s, rq = math.sqrt(1 - c * c), math.sqrt(q)

    def both(f: Callable[[float], float], z2: float, z1: float) -> float:
        return f(rq * z1) * f(rq * (c * z1 + s * z2)) * g(z1) * g(z2)

    e_phi = dblquad(lambda z2, z1: both(math.tanh, z2, z1), -10, 10, -10, 10, epsabs=1e-12)[0]
    e_d = dblquad(
        lambda z2, z1: both(lambda x: 1 - math.tanh(x) ** 2, z2, z1), -10, 10, -10, 10, epsabs=1e-12
    )[0]
    assert (w2 * e_phi + b2) / q == pytest.approx(c, abs=1e-9)  # c* is the map's fixed point
    assert w2 * e_d == pytest.approx(r.chi_c, rel=1e-9)


# ----------------------------------------------------------------------------- the figures


def test_tanh_is_critical_near_1_76_at_sigma_b2_0_05() -> None:
    w2 = mf.critical_sigma_w2("tanh", TANH_B2)
    assert w2 == pytest.approx(1.761, abs=1e-3)
    r = mf.mean_field("tanh", w2, TANH_B2)
    assert r.q_star == pytest.approx(0.570, abs=1e-3)
    assert r.chi_1 == pytest.approx(1.0, abs=1e-9) and r.phase == "critical"
    assert r.xi_c == math.inf and r.to_json()["trainable_depth"] is None


# the 6 xi_c for tanh at sigma_b^2 = 0.05; ours are 21.8 47.0 94.7 449.5 151.3 70.8 41.9
SIX_XI = [(1.0, 22), (1.3, 47), (1.5, 95), (1.7, 450), (2.0, 151), (2.5, 71), (4.0, 42)]


@pytest.mark.parametrize("w2, depth", SIX_XI)
def test_tanh_trainable_depth_table(w2: float, depth: float) -> None:
    r = mf.mean_field("tanh", w2, TANH_B2)
    assert r.trainable_depth == pytest.approx(depth, rel=0.02)
    assert r.trainable_depth == pytest.approx(6 * r.xi_c)
    if w2 < 1.761:
        assert r.c_star == 1.0 and r.chi_c == r.chi_1 and r.phase == "ordered"
    else:
        assert r.c_star < 1.0 and r.chi_c < 1.0 < r.chi_1 and r.phase == "chaotic"


def test_sigmoid_needs_sigma_w2_near_103() -> None:
    assert mf.critical_sigma_w2("sigmoid", 0.0) == pytest.approx(103.0, abs=0.05)
    line = dict(mf.phase_diagram("sigmoid", [0.0, 0.1, 1.0]))
    assert line[0.1] == pytest.approx(103.25, abs=0.05) and line[1.0] == pytest.approx(105.4, abs=0.05)
    assert mf.critical_sigma_w2("sigmoid", 0.0, hi=50.0) is None


def test_phase_diagram_tanh() -> None:
    line = mf.phase_diagram("tanh", [0.0, TANH_B2])
    assert line[0][1] == pytest.approx(1.0, abs=1e-6)  # q* = 0: chi_1 = sigma_w^2 tanh'(0)^2
    assert line[1][1] == pytest.approx(1.761, abs=1e-3)


def test_default_init_shrinks_the_gradient_over_ten_layers() -> None:
    relu, tanh = mf.for_init("relu", "default"), mf.for_init("tanh", "default")
    # relu: chi_1 = 1/6 whatever q, and the 1.6e-8 is chi_1^10 = ten backward steps,
    # i.e. 11 hidden layers in predicted_grad_ratio's first-to-last convention
    assert relu.chi_1 == pytest.approx(1 / 6)
    assert relu.predicted_grad_ratio(11) == pytest.approx(1.65e-8, rel=0.01)
    assert relu.predicted_grad_norm_ratio(11) == pytest.approx(math.sqrt(1.65e-8), rel=0.01)
    # tanh: at q* (width 128) chi_1^10 = 1.57e-5; the 5.7e-6 is the transient from q_0 = 1
    assert tanh.predicted_grad_ratio(11) == pytest.approx(1.57e-5, rel=0.01)
    for b2 in (0.0, 1 / (3 * 512), 1 / (3 * 128)):
        assert mf.transient_grad_ratio("tanh", 1 / 3, b2, 10) == pytest.approx(5.7e-6, rel=0.05)
    assert mf.transient_grad_ratio("relu", 1 / 3, 1 / 384, 10) == pytest.approx(relu.chi_1**10)


@pytest.mark.parametrize("name", ["silu", "gelu"])
def test_silu_gelu_chi_1_near_a_quarter_sigma_w2_at_small_q(name: str) -> None:
    assert mf.as_pair(name).df(np.zeros(1))[0] == pytest.approx(0.5)
    for w2 in (0.5, 1.0, 2.0):
        r = mf.mean_field(name, w2, 1e-4)
        assert r.q_star < 1e-3
        assert r.chi_1 == pytest.approx(w2 / 4, rel=1e-2)
    assert mf.mean_field(name, 2.0, 0.0).chi_1 == pytest.approx(0.5, rel=1e-6)  # q* = 0


# ----------------------------------------------------------------------------- inits


def test_init_schemes_map_to_variances() -> None:
    expect = {
        "default": (1 / 3, 1 / (3 * 128)),
        "xavier_uniform": (1.0, 0.0),
        "xavier_normal": (1.0, 0.0),
        "kaiming_uniform": (2.0, 0.0),
        "kaiming_normal": (2.0, 0.0),
        "lecun_normal": (1.0, 0.0),
        "orthogonal": (1.0, 0.0),
        "zeros": (0.0, 0.0),
    }
    for scheme, (w2, b2) in expect.items():
        iv = mf.init_variance(scheme)
        assert (iv.sigma_w2, iv.sigma_b2) == pytest.approx((w2, b2)), scheme
    assert mf.init_variance("default", width=64).sigma_b2 == pytest.approx(1 / 192)
    for scheme in ("default", "xavier_uniform", "kaiming_uniform"):
        assert "a^2 / 3" in mf.init_variance(scheme).note
    assert "square" in mf.init_variance("xavier_normal").note
    assert "iid Gaussian" in mf.init_variance("orthogonal").note
    rec = mf.init_variance("recommended", ACTIVATIONS["relu"])
    assert (rec.scheme, rec.sigma_w2) == ("kaiming_uniform", 2.0) and "recommended for relu" in rec.note
    assert mf.init_variance("recommended", ACTIVATIONS["tanh"]).sigma_w2 == 1.0
    g = mf.init_variance("gaussian", sigma_w2=1.761, sigma_b2=0.05)
    assert (g.sigma_w2, g.sigma_b2) == (1.761, 0.05)
    r = mf.for_init("tanh", "gaussian", sigma_w2=1.761, sigma_b2=0.05)
    assert r.phase == "critical" and r.caveat is not None and r.caveat.startswith("init gaussian")
    for bad in (lambda: mf.init_variance("gaussian"), lambda: mf.init_variance("recommended")):
        with pytest.raises(ValueError):
            bad()
    with pytest.raises(ValueError, match="not one of"):
        mf.init_variance("uniform")


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_registry_activation_has_finite_chi_1_at_default_init(name: str) -> None:
    r = mf.for_init(name, "default")
    assert math.isfinite(r.chi_1) and 0.0 < r.chi_1 < 1.0 and r.phase == "ordered"
    assert math.isfinite(r.q_star) and math.isfinite(r.xi_c) and r.reason is None
    json.dumps(r.to_json(), allow_nan=False)


# ----------------------------------------------------------------------------- custom activations


@pytest.mark.parametrize("w2, b2", [(1 / 3, 1 / 384), (1.0, TANH_B2), (1.3, TANH_B2), (2.5, TANH_B2)])
def test_interpolated_custom_tanh_is_close_to_tanh(w2: float, b2: float) -> None:
    mine, ref = mf.mean_field(CUSTOM_TANH, w2, b2), mf.mean_field("tanh", w2, b2)
    assert mine.activation == "./acts.py:f" and mine.phase == ref.phase
    assert mine.chi_1 == pytest.approx(ref.chi_1, abs=1e-3)
    assert mine.q_star == pytest.approx(ref.q_star, abs=1e-3)
    assert mine.c_star == pytest.approx(ref.c_star, abs=2e-3)
    assert mine.trainable_depth == pytest.approx(ref.trainable_depth, rel=0.02)
    clamped = math.sqrt(mine.q_star) * mf.TAIL > 6.0
    assert (mine.caveat is not None and "clamped" in mine.caveat) == clamped


def test_custom_with_a_nan_gets_a_one_line_reason() -> None:
    f = np.tanh(Z)
    f[100] = np.nan
    act = from_description(_custom(f, 1.0 - np.tanh(Z) ** 2, Z))
    r = mf.mean_field(act, 1.0, TANH_B2)
    assert r.phase == "unknown" and math.isnan(r.chi_1)
    assert r.reason is not None and "not finite" in r.reason and "\n" not in r.reason
    out = r.to_json()
    assert out["chi_1"] is None and out["q_star"] is None
    json.dumps(out, allow_nan=False)
    assert math.isnan(mf.chi_1(act, 1.0, TANH_B2))


def test_pair_from_numpy_callables_and_bad_arguments() -> None:
    # sin: E[sin(sqrt(q) z)^2] = (1 - exp(-2q)) / 2, E[cos(sqrt(q) z)^2] = (1 + exp(-2q)) / 2
    w2, b2 = 3.0, 0.1
    r = mf.mean_field(mf.Pair("sin", np.sin, np.cos), w2, b2)
    q = r.q_star
    assert q == pytest.approx(w2 * (1 - math.exp(-2 * q)) / 2 + b2, rel=1e-12)
    assert r.chi_1 == pytest.approx(w2 * (1 + math.exp(-2 * q)) / 2, rel=1e-12)
    with pytest.raises(ValueError):
        mf.mean_field("tanh", -1.0, 0.0)
    with pytest.raises(ValueError):
        mf.mean_field("tanh", 1.0, 0.0, q0=0.0)
    with pytest.raises(ValueError):
        mf.as_pair("./nowhere.py:f")
    with pytest.raises(ValueError):
        mf.mean_field("tanh", 1.0, 0.0).predicted_grad_ratio(0)
