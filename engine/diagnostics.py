"""Why one member trains faster than another, measured on a fixed probe batch.

Per hidden layer (input side first): the gradient norm of the weights feeding the layer (of
the probe batch's mean loss; and, as `sample_grad_norm`, the root mean square over the batch of
each sample's own gradient norm, the figure mean-field theory predicts), the saturated
fraction (f'(z) below 1% of the activation's largest derivative, over every unit and sample),
the dead fraction (units whose f'(z) is exactly 0 on every sample), the mean and spread of the
activations, and a histogram of the pre-activations z. Clipping counters come from the training
steps themselves. A `prelu` member also reports its learned slope per hidden layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .activations import Activation
from .config import RunConfig
from .events import LayerDiagnostics, MemberDiagnostics
from .model import Cohort

PROBE_SIZE = 256  # samples in the fixed diagnostics probe batch
HIST_EDGES = [-6.0 + 0.5 * i for i in range(25)]  # pre-activation histogram bins


@dataclass
class LayerStats:
    """One member's hidden layer on the probe batch, still on the device: read to the host
    (`to_host`) only after every member and layer is computed."""

    saturated_fraction: Tensor | None  # None: not a saturating activation
    dead_fraction: Tensor | None  # None: its units cannot die
    activation_mean: Tensor
    activation_std: Tensor
    preact_hist: Tensor
    grad_norm: Tensor | None = None  # the probe's, filled in after the backward pass
    sample_grad_norm: Tensor | None = None  # its per-sample root mean square, likewise

    def to_host(self) -> LayerDiagnostics:
        return {
            "saturated_fraction": _scalar(self.saturated_fraction),
            "dead_fraction": _scalar(self.dead_fraction),
            "activation_mean": _scalar(self.activation_mean),
            "activation_std": _scalar(self.activation_std),
            # shares of a count: always finite
            "preact_hist": [v or 0.0 for v in _values(self.preact_hist)],
            "grad_norm": _scalar(self.grad_norm),
            "sample_grad_norm": _scalar(self.sample_grad_norm),
        }


def probe_indices(n: int) -> Tensor:
    """The probe batch's images among a training split of n: the same for every run of it."""
    gen = torch.Generator().manual_seed(12345)
    return torch.randperm(n, generator=gen)[: min(PROBE_SIZE, n)]


def input_mean_square(config: RunConfig) -> float:
    """The mean of x^2 over the probe batch's images and pixels: the first layer's input, from
    which mean-field theory starts (`meanfield_mlp`). Loads the config's data on the CPU."""
    from .data import load

    data = load(config, torch.device("cpu"))
    x = data.train_x[probe_indices(int(data.train_x.shape[0]))]
    return float(x.double().pow(2).mean())


def layer_stats(z: Tensor, a: Tensor, d: Tensor, act: Activation, edges: list[float]) -> LayerStats:
    """Statistics of one member's hidden layer from z, f(z) and f'(z), each [B, H].

    The saturated fraction is reported for saturating activations only and the dead
    fraction for those whose units can die; elsewhere they are None (not applicable)."""
    saturated = (d < act.saturation_level()).float().mean() if act.saturating else None
    dead = (d == 0).all(dim=0).float().mean() if act.can_die else None
    lo, hi = edges[0], edges[-1]
    bins = len(edges) - 1
    hist = torch.histc(z.float().clamp(lo, hi), bins=bins, min=lo, max=hi)
    hist = hist / max(1, z.numel())
    return LayerStats(saturated, dead, a.mean(), a.std(unbiased=False), hist)


def probe(
    cohort: Cohort, x: Tensor, y: Tensor, loss_and_grad: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]
) -> list[MemberDiagnostics]:
    """Diagnostics of every live member on the probe batch (x, y), in cohort slot order; read
    to the host at the end only. `clipping` is None here: the trainer fills it in when it clips."""
    logits, cache = cohort.forward(x)
    _, dlogits = loss_and_grad(logits, y)
    per_sample: list[Tensor] = []
    gw, _, _ = cohort.backward(x, cache, dlogits, per_sample)
    per_layer_norms = []
    for i, g in enumerate(gw):
        dims = [d for d in range(g.dim()) if d != cohort.layers[i].member_dim]
        per_layer_norms.append(g.pow(2).sum(dim=dims).sqrt())  # [K]
    # the batch's mean loss has d/dz = (1/B) d loss_s / dz for each sample s
    B = x.shape[-2]
    sample_norms = [B * sq.mean(dim=1).sqrt() for sq in per_sample]  # [K] each
    on_device: list[tuple[list[LayerStats], Tensor, Tensor | None]] = []
    for k, act in enumerate(cohort.acts):
        layers = []
        for li, (z, a, _) in enumerate(cache):
            d = cohort.derivative(k, li, z[k], a[k])
            stats = layer_stats(z[k], a[k], d, act, HIST_EDGES)
            stats.grad_norm = per_layer_norms[li][k]
            stats.sample_grad_norm = sample_norms[li][k]
            layers.append(stats)
        slopes = cohort.slopes[k] if cohort.slopes is not None and cohort.learned(k) else None
        on_device.append((layers, per_layer_norms[-1][k], slopes))
    # every read at once: a host sync at a diagnostics point only
    out: list[MemberDiagnostics] = []
    for layers, output_norm, slopes in on_device:
        entry: MemberDiagnostics = {
            "layers": [stats.to_host() for stats in layers],
            "output_grad_norm": _scalar(output_norm),
            "clipping": None,
        }
        if slopes is not None:
            entry["prelu_slopes"] = _values(slopes)  # learned slope per hidden layer
        out.append(entry)
    return out


def _scalar(t: Tensor | None) -> float | None:
    return None if t is None else _num(t.detach().cpu().item())


def _values(t: Tensor) -> list[float | None]:
    """A 1-D tensor's values, rounded (None where not finite)."""
    return [_num(x) for x in t.detach().cpu().tolist()]


def _num(x: float) -> float | None:
    if x != x or x in (float("inf"), float("-inf")):
        return None
    return float(f"{x:.6g}")
