"""Why one member trains faster than another, measured on a fixed probe batch.

Per hidden layer (input side first): the gradient norm of the weights feeding the layer,
the saturated fraction (f'(z) below 1% of the activation's largest derivative, over every
unit and sample), the dead fraction (units whose f'(z) is exactly 0 on every sample), the
mean and spread of the activations, and a histogram of the pre-activations z. Clipping
counters come from the training steps themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from .activations import Activation

if TYPE_CHECKING:
    from .train import Trainer


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


def probe(trainer: Trainer) -> list[dict[str, Any]]:
    """Diagnostics of every live member (cohort slot order); one host read at the end."""
    from .train import HIST_EDGES

    cohort = trainer.cohort
    x, y = trainer.probe_x, trainer.probe_y
    logits, cache = cohort.forward(x)
    _, dlogits = trainer.loss_and_grad(logits, y)
    gw, _ = cohort.backward(x, cache, dlogits)
    per_layer_norms = []
    for i, g in enumerate(gw):
        dims = [d for d in range(g.dim()) if d != cohort.layers[i].member_dim]
        per_layer_norms.append(g.pow(2).sum(dim=dims).sqrt())  # [K]
    out: list[dict[str, Any]] = []
    raw: list[Any] = []
    for k, act in enumerate(cohort.acts):
        layers = []
        for li, (z, a, _) in enumerate(cache):
            d = act.derivative(z[k], a[k])
            stats = layer_stats(z[k], a[k], d, act, HIST_EDGES)
            stats["grad_norm"] = per_layer_norms[li][k]
            layers.append(stats)
        raw.append({"layers": layers, "output_grad_norm": per_layer_norms[-1][k]})
    # one transfer for everything: a host sync at a diagnostics point only
    host = _to_host(raw)
    st = trainer.st
    clip = trainer.config.clip != "none"
    if clip:
        steps = max(1, st.norm_steps)
        clip_counts = st.clip_count.cpu().tolist()
        norm_mean = (st.norm_sum / steps).cpu().tolist()
        norm_max = st.norm_max.cpu().tolist()
    for k, member in enumerate(host):
        entry = {"layers": member["layers"], "output_grad_norm": member["output_grad_norm"]}
        if clip:
            m = trainer.members[k]
            tot = trainer.clip_totals.setdefault(m, [0.0, 0])
            tot[0] += clip_counts[k]
            tot[1] += st.norm_steps
            entry["clipping"] = {
                "clipped_fraction": round(clip_counts[k] / steps, 6),
                "clipped_fraction_total": round(tot[0] / max(1, tot[1]), 6),
                "preclip_norm": round(norm_mean[k], 6),
                "preclip_norm_max": round(norm_max[k], 6),
                "threshold": trainer.config.clip_threshold,
            }
        else:
            entry["clipping"] = None
        out.append(entry)
    if clip:
        st.clip_count.zero_()
        st.norm_sum.zero_()
        st.norm_max.zero_()
        st.norm_steps = 0
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
