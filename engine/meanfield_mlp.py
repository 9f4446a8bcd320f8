"""Mean-field predictions for the net the engine trains rather than an idealized deep one: a
first layer of `n_features` inputs (its own fans, the input's mean square where a deep layer
would have q*), then hidden layers of one width. Plain NumPy, like `meanfield`.

One sample's gradient of the weights W_l feeding hidden layer l is an outer product, so its
squared norm is |delta_l|^2 |a_{l-1}|^2, with delta_l = d loss / d h_l, a_0 = x and
a_l = phi(h_l). At infinite width, with the backward weights independent of the forward ones:

    |delta_l|^2 = sigma_w^2 E[phi'(sqrt(q_l) z)^2] |delta_{l+1}|^2          (l = 1 .. L-1)
    |a_0|^2 = n_features m2,   |a_{L-1}|^2 = width E[phi(sqrt(q_{L-1}) z)^2]

where m2 is the mean of x^2 over pixels and samples, q_1 = sigma_w0^2 m2 + sigma_b0^2 (the first
layer's own variances) and q_{l+1} the length map of q_l. The ratio of the weight-gradient
norms, first hidden layer over the last, is then

    R^2 = prod_{l=1}^{L-1} sigma_w^2 E[phi'(sqrt(q_l) z)^2]
          x n_features m2 / (width E[phi(sqrt(q_{L-1}) z)^2])

the figure the diagnostics probe measures as sample_grad_norm[0] / sample_grad_norm[-1] (each
probe sample's own gradient, root mean square over the batch). Deep in the net, where q_l = q*,
the product is chi_1^(L-1): `MeanField.predicted_grad_ratio`. docs/theory.md has the check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .activations import Activation
from .meanfield import ActivationLike, InitVariance, as_pair, expect, init_variance, length_map

MNIST_FEATURES = 784


@dataclass(frozen=True)
class GradRatio:
    """The predicted |grad W_1| / |grad W_L| at initialization of a net of `depth` hidden layers.
    chain: |delta_1|^2 / |delta_L|^2; inputs: |a_0|^2 / |a_{L-1}|^2; ratio: sqrt(chain x inputs)
    (NaN, with the reason, when a function or a variance was not finite)."""

    depth: int
    width: int
    n_features: int
    input_mean_square: float
    q: tuple[float, ...]  # q_1 .. q_depth
    chain: float
    inputs: float
    ratio: float
    reason: str | None = None


def grad_norm_ratio(
    activation: ActivationLike,
    sigma_w2: float,
    sigma_b2: float,
    depth: int,
    width: int,
    *,
    n_features: int = MNIST_FEATURES,
    input_mean_square: float = 1.0,
    first: tuple[float, float] | None = None,
) -> GradRatio:
    """R above for hidden-to-hidden variances (sigma_w2, sigma_b2) and the first layer's `first`
    (default the same); one hidden layer: 1, the first layer is the last."""
    if depth < 1 or width < 1 or n_features < 1:
        raise ValueError(f"depth {depth}, width {width}, n_features {n_features}: each must be >= 1")
    w0, b0 = first if first is not None else (sigma_w2, sigma_b2)
    pair = as_pair(activation)
    nan = math.nan
    try:
        q = [w0 * input_mean_square + b0]
        chain = 1.0
        for _ in range(depth - 1):
            chain *= sigma_w2 * expect(lambda u: pair.df(u) ** 2, q[-1])
            q.append(length_map(pair, q[-1], sigma_w2, sigma_b2))
        if not all(math.isfinite(v) for v in (*q, chain)):
            raise ValueError(f"q_l or the gradient factor overflows within {depth} layers")
        if depth == 1:
            inputs = 1.0
        else:
            last_in = width * expect(lambda u: pair.f(u) ** 2, q[-2])
            inputs = n_features * input_mean_square / last_in if last_in > 0 else math.inf
    except (ValueError, OverflowError) as exc:
        return GradRatio(depth, width, n_features, input_mean_square, (), nan, nan, nan, str(exc))
    ratio = math.sqrt(chain * inputs)
    why = None if math.isfinite(ratio) else "the last hidden layer's input is 0: no gradient reaches W_L"
    return GradRatio(depth, width, n_features, input_mean_square, tuple(q), chain, inputs, ratio, why)


def first_layer_variance(
    scheme: str,
    activation: Activation | None,
    *,
    n_features: int,
    width: int,
    sigma_w2: float | None = None,
    sigma_b2: float | None = None,
) -> InitVariance:
    """`meanfield.init_variance` for the first layer, n_features -> width: the schemes that see
    fan_out (Xavier's 2 fan_in / (fan_in + fan_out), orthogonal's unit columns when the layer is
    wider than its input) or the first fan_in (the default's bias variance) differ from a square
    hidden layer's."""
    if scheme == "recommended":
        if activation is None:
            raise ValueError("init 'recommended': needs the activation")
        scheme = activation.recommended_init
    iv = init_variance(scheme, activation, width=n_features, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    if scheme.startswith("xavier"):
        w2 = 2.0 * n_features / (n_features + width)
    elif scheme == "orthogonal" and width > n_features:  # orthonormal columns of `width` entries
        w2 = n_features / width
    else:
        return iv
    return InitVariance(scheme, w2, iv.sigma_b2, f"{iv.note}; first layer {n_features} -> {width}: {w2:.4g}")
