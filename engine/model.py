"""The side-by-side cohort: K MLPs that differ only by hidden activation, stored stacked.

Weights of all members live in one tensor per layer, so a layer of the whole cohort is one
matrix multiply: the first layer as a single GEMM (`x @ W0` with W0 laid out [in, K, out]),
the others as a batched GEMM over members ([K, in, out]). Forward and backward are written
out by hand; tests check them against autograd on an equivalent `torch.nn` network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .activations import ACTIVATIONS, Activation


@dataclass
class Layer:
    """One linear layer of every member. `weight` is [in, K, out] for the first layer,
    [K, in, out] after it; `bias` is [K, out]."""

    weight: Tensor
    bias: Tensor
    first: bool

    @property
    def member_dim(self) -> int:
        return 1 if self.first else 0

    def weight_of(self, k: int) -> Tensor:
        """Member k's weight as [in, out]."""
        return self.weight[:, k] if self.first else self.weight[k]


# ----------------------------------------------------------------------------- inits


def init_weight(scheme: str, fan_out: int, fan_in: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """One layer's weight [out, in] and bias [out], as torch.nn.Linear lays them out."""
    shape = (fan_out, fan_in)
    zeros_b = torch.zeros(fan_out)
    if scheme == "default":  # torch.nn.Linear: kaiming_uniform(a=sqrt 5) = U(+-1/sqrt(fan_in))
        bound = 1.0 / math.sqrt(fan_in)
        w = (torch.rand(shape, generator=gen) * 2 - 1) * bound
        b = (torch.rand(fan_out, generator=gen) * 2 - 1) * bound
        return w, b
    if scheme == "xavier_uniform":
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        return (torch.rand(shape, generator=gen) * 2 - 1) * bound, zeros_b
    if scheme == "xavier_normal":
        return torch.randn(shape, generator=gen) * math.sqrt(2.0 / (fan_in + fan_out)), zeros_b
    if scheme == "kaiming_uniform":
        bound = math.sqrt(6.0 / fan_in)
        return (torch.rand(shape, generator=gen) * 2 - 1) * bound, zeros_b
    if scheme == "kaiming_normal":
        return torch.randn(shape, generator=gen) * math.sqrt(2.0 / fan_in), zeros_b
    if scheme == "lecun_normal":
        return torch.randn(shape, generator=gen) * math.sqrt(1.0 / fan_in), zeros_b
    if scheme == "orthogonal":
        w = torch.empty(shape)
        torch.nn.init.orthogonal_(w, generator=gen)
        return w, zeros_b
    if scheme == "zeros":  # the classic failure: every unit of a layer stays identical
        return torch.zeros(shape), zeros_b
    raise ValueError(f"unknown init {scheme!r}")


def initial_parameters(sizes: list[int], scheme: str, seed: int) -> list[tuple[Tensor, Tensor]]:
    """The weights every member starts from: same seed, same tensors, layer by layer."""
    gen = torch.Generator().manual_seed(seed)
    return [init_weight(scheme, sizes[i + 1], sizes[i], gen) for i in range(len(sizes) - 1)]


# ----------------------------------------------------------------------------- cohort


class Cohort:
    """K members, identical in shape, with their weights stacked along a member axis."""

    def __init__(
        self,
        activations: list[str],
        sizes: list[int],
        init: str,
        seed: int,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.names = list(activations)
        self.acts: list[Activation] = [ACTIVATIONS[a] for a in activations]
        self.sizes = list(sizes)
        self.device = device
        K = len(activations)
        per_member: list[list[tuple[Tensor, Tensor]]]
        if init == "recommended":
            # each activation's own scheme, from the same random stream
            per_member = [initial_parameters(sizes, a.recommended_init, seed) for a in self.acts]
        else:
            shared = initial_parameters(sizes, init, seed)
            per_member = [shared] * K
        self.layers: list[Layer] = []
        for i in range(len(sizes) - 1):
            ws = [p[i][0].t() for p in per_member]  # [in, out] each
            bs = [p[i][1] for p in per_member]
            if i == 0:
                w = torch.stack(ws, dim=1)  # [in, K, out]
            else:
                w = torch.stack(ws, dim=0)  # [K, in, out]
            self.layers.append(
                Layer(
                    w.to(device=device, dtype=dtype).contiguous(),
                    torch.stack(bs).to(device=device, dtype=dtype).contiguous(),
                    first=(i == 0),
                )
            )

    @property
    def size(self) -> int:
        return len(self.names)

    @property
    def depth(self) -> int:
        return len(self.sizes) - 2

    def parameters(self) -> list[Tensor]:
        return [t for layer in self.layers for t in (layer.weight, layer.bias)]

    def keep(self, index: list[int]) -> None:
        """Drop every member not in `index` (used to retire diverged members)."""
        idx = torch.tensor(index, device=self.device)
        for layer in self.layers:
            layer.weight = layer.weight.index_select(layer.member_dim, idx).contiguous()
            layer.bias = layer.bias.index_select(0, idx).contiguous()
        self.names = [self.names[i] for i in index]
        self.acts = [self.acts[i] for i in index]

    # ------------------------------------------------------------------------ forward

    def linear(self, i: int, h: Tensor) -> Tensor:
        """Layer i applied to h: [B, in] for the first layer, else [K, B, in] -> [K, B, out]."""
        layer = self.layers[i]
        if layer.first:
            n_in, K, n_out = layer.weight.shape
            z = torch.addmm(layer.bias.reshape(K * n_out), h, layer.weight.reshape(n_in, K * n_out))
            return z.reshape(h.shape[0], K, n_out).transpose(0, 1)
        return torch.baddbmm(layer.bias.unsqueeze(1), h, layer.weight)

    def activate(self, z: Tensor) -> Tensor:
        """Each member's own activation on its slice of z [K, B, H]; returns contiguous."""
        return torch.stack([act.fn(z[k]) for k, act in enumerate(self.acts)])

    def forward(
        self, x: Tensor, dropout: float = 0.0, gen: torch.Generator | None = None
    ) -> tuple[Tensor, list[tuple[Tensor, Tensor, Tensor | None]]]:
        """Logits [K, B, C] and, per hidden layer, (z, f(z), dropout scale or None)."""
        cache: list[tuple[Tensor, Tensor, Tensor | None]] = []
        h: Tensor = x
        for i in range(len(self.layers) - 1):
            z = self.linear(i, h)
            a = self.activate(z)
            mask = None
            if dropout > 0.0:
                # one mask for the whole cohort, so members see the same dropped units
                keep = torch.rand(a.shape[1:], device=a.device, generator=gen) >= dropout
                mask = keep.to(a.dtype) / (1.0 - dropout)
                h = a * mask
            else:
                h = a
            cache.append((z, a, mask))
        return self.linear(len(self.layers) - 1, h), cache

    def logits(self, x: Tensor) -> Tensor:
        h: Tensor = x
        for i in range(len(self.layers) - 1):
            h = self.activate(self.linear(i, h))
        return self.linear(len(self.layers) - 1, h)

    # ----------------------------------------------------------------------- backward

    def backward(
        self, x: Tensor, cache: list[tuple[Tensor, Tensor, Tensor | None]], dlogits: Tensor
    ) -> tuple[list[Tensor], list[Tensor]]:
        """Gradients of every layer's weight and bias, given d loss / d logits [K, B, C]."""
        n = len(self.layers)
        gw: list[Tensor] = [torch.empty(0)] * n
        gb: list[Tensor] = [torch.empty(0)] * n
        dz = dlogits
        for i in range(n - 1, -1, -1):
            layer = self.layers[i]
            gb[i] = dz.sum(dim=1)
            if layer.first:
                K, B, n_out = dz.shape
                dz_flat = dz.transpose(0, 1).reshape(B, K * n_out)
                gw[i] = (x.t() @ dz_flat).reshape(x.shape[1], K, n_out)
                break
            z, a, mask = cache[i - 1]
            h_in = a if mask is None else a * mask
            gw[i] = torch.bmm(h_in.transpose(1, 2), dz)
            dh = torch.bmm(dz, layer.weight.transpose(1, 2))
            if mask is not None:
                dh = dh * mask
            dz = torch.stack([act.backward(dh[k], z[k], a[k]) for k, act in enumerate(self.acts)])
        return gw, gb


def reference_network(
    activation: str, sizes: list[int], weights: list[tuple[Tensor, Tensor]]
) -> torch.nn.Sequential:
    """The same member as an ordinary torch.nn network (for parity tests and benchmarks)."""
    act = ACTIVATIONS[activation]

    class Act(torch.nn.Module):
        def forward(self, z: Tensor) -> Tensor:
            return act.fn(z)

    mods: list[torch.nn.Module] = []
    for i, (w, b) in enumerate(weights):
        lin = torch.nn.Linear(sizes[i], sizes[i + 1])
        with torch.no_grad():
            lin.weight.copy_(w)
            lin.bias.copy_(b)
        mods.append(lin)
        if i < len(weights) - 1:
            mods.append(Act())
    return torch.nn.Sequential(*mods)
