"""Why one member trains faster than another, measured on a fixed probe batch.

Per hidden layer (input side first): the gradient norm of the weights feeding the layer,
the saturated fraction (f'(z) below 1% of the activation's largest derivative, over every
unit and sample), the dead fraction (units whose f'(z) is exactly 0 on every sample), the
mean and spread of the activations, and a histogram of the pre-activations z. Clipping
counters come from the training steps themselves. A `prelu` member also reports its learned
slope per hidden layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .activations import Activation
from .model import Cohort

PROBE_SIZE = 256  # samples in the fixed diagnostics probe batch
HIST_EDGES = [-6.0 + 0.5 * i for i in range(25)]  # pre-activation histogram bins


def layer_stats(z: Tensor, a: Tensor, d: Tensor, act: Activation, edges: list[float]) -> dict[str, Any]:
    """Statistics of one member's hidden layer from z, f(z) and f'(z), each [B, H].

    The saturated fraction is reported for saturating activations only and the dead
    fraction for those whose units can die; elsewhere they are None (not applicable)."""
    saturated = (d < act.saturation_level()).float().mean() if act.saturating else None
    dead = (d == 0).all(dim=0).float().mean() if act.can_die else None
    lo, hi = edges[0], edges[-1]
    bins = len(edges) - 1
    hist = torch.histc(z.float().clamp(lo, hi), bins=bins, min=lo, max=hi)
    hist = hist / max(1, z.numel())
    return {
        "saturated_fraction": saturated,
        "dead_fraction": dead,
        "activation_mean": a.mean(),
        "activation_std": a.std(unbiased=False),
        "preact_hist": hist,
    }


def probe(
    cohort: Cohort, x: Tensor, y: Tensor, loss_and_grad: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]
) -> list[dict[str, Any]]:
    """Diagnostics of every live member on the probe batch (x, y), in cohort slot order; one
    host read at the end. `clipping` is None here: the trainer fills it in when it clips."""
    logits, cache = cohort.forward(x)
    _, dlogits = loss_and_grad(logits, y)
    gw, _, _ = cohort.backward(x, cache, dlogits)
    per_layer_norms = []
    for i, g in enumerate(gw):
        dims = [d for d in range(g.dim()) if d != cohort.layers[i].member_dim]
        per_layer_norms.append(g.pow(2).sum(dim=dims).sqrt())  # [K]
    raw: list[Any] = []
    for k, act in enumerate(cohort.acts):
        layers = []
        for li, (z, a, _) in enumerate(cache):
            d = cohort.derivative(k, li, z[k], a[k])
            stats = layer_stats(z[k], a[k], d, act, HIST_EDGES)
            stats["grad_norm"] = per_layer_norms[li][k]
            layers.append(stats)
        slopes = cohort.slopes[k] if cohort.slopes is not None and cohort.learned(k) else None
        raw.append({"layers": layers, "output_grad_norm": per_layer_norms[-1][k], "prelu_slopes": slopes})
    # one transfer for everything: a host sync at a diagnostics point only
    out = []
    for m in _to_host(raw):
        entry = {"layers": m["layers"], "output_grad_norm": m["output_grad_norm"], "clipping": None}
        if m["prelu_slopes"] is not None:
            entry["prelu_slopes"] = m["prelu_slopes"]  # learned slope per hidden layer
        out.append(entry)
    return out


def _to_host(tree: Any) -> Any:
    """Turn every tensor in a nest of dicts and lists into rounded floats (lists)."""
    if isinstance(tree, Tensor):
        v = tree.detach().cpu()
        if v.dim() == 0:
            return _num(v.item())
        return [_num(x) for x in v.tolist()]
    if isinstance(tree, dict):
        return {k: _to_host(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_to_host(v) for v in tree]
    return tree


def _num(x: float) -> float | None:
    if x != x or x in (float("inf"), float("-inf")):
        return None
    return float(f"{x:.6g}")
