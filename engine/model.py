"""The side-by-side cohort: K MLPs that differ only by hidden activation, stored stacked.

Weights of all members live in one tensor per layer, so a layer of the whole cohort is one
matrix multiply: the first layer as a single GEMM (`x @ W0` with W0 laid out [in, K, out]),
the others as a batched GEMM over members ([K, in, out]). Forward and backward are written
out by hand; tests check them against autograd on an equivalent `torch.nn` network.

A `prelu` member learns one negative slope per hidden layer (as `torch.nn.PReLU()` does),
kept in `slopes` [K, depth]: a column per layer, a row per member (other members' rows are 0
and get no gradient). The slopes are parameters of their member like its weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .activations import Activation
from .custom import resolve


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
        self.acts: list[Activation] = [resolve(a) for a in activations]
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
        # learned PReLU slopes, one per member and hidden layer; None without a prelu member
        self.slopes: Tensor | None = None
        if any(a.kind == "learned" for a in self.acts):
            starts = [a.param_values.get("init", 0.0) if a.kind == "learned" else 0.0 for a in self.acts]
            column = torch.tensor(starts, dtype=dtype).unsqueeze(1)
            self.slopes = column.repeat(1, len(sizes) - 2).to(device).contiguous()

    @property
    def size(self) -> int:
        return len(self.names)

    @property
    def depth(self) -> int:
        return len(self.sizes) - 2

    def parameters(self) -> list[Tensor]:
        """Weight and bias of every layer, in order, then the PReLU slopes if any."""
        params = [t for layer in self.layers for t in (layer.weight, layer.bias)]
        return params if self.slopes is None else [*params, self.slopes]

    def member_dims(self) -> list[int]:
        """The member axis of each of `parameters()`."""
        dims = [d for layer in self.layers for d in (layer.member_dim, 0)]
        return dims if self.slopes is None else [*dims, 0]

    def regularized(self) -> list[bool]:
        """Which of `parameters()` L2 and L1 apply to: weights and PReLU slopes, not biases."""
        flags = [flag for _ in self.layers for flag in (True, False)]
        return flags if self.slopes is None else [*flags, True]

    def learned(self, k: int) -> bool:
        return self.acts[k].kind == "learned"

    def keep(self, index: list[int]) -> None:
        """Drop every member not in `index` (used to retire diverged members)."""
        idx = torch.tensor(index, device=self.device)
        for layer in self.layers:
            layer.weight = layer.weight.index_select(layer.member_dim, idx).contiguous()
            layer.bias = layer.bias.index_select(0, idx).contiguous()
        if self.slopes is not None:
            self.slopes = self.slopes.index_select(0, idx).contiguous()
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

    def activate(self, z: Tensor, layer: int = 0) -> Tensor:
        """Each member's own activation on its slice of z [K, B, H] of hidden layer `layer`;
        returns contiguous."""
        return torch.stack([self.act_fn(k, layer, z[k]) for k in range(len(self.acts))])

    def act_fn(self, k: int, layer: int, z: Tensor) -> Tensor:
        if self.slopes is not None and self.learned(k):
            return torch.nn.functional.prelu(z, self.slopes[k, layer : layer + 1])
        return self.acts[k].fn(z)

    def derivative(self, k: int, layer: int, z: Tensor, a: Tensor) -> Tensor:
        """f'(z) of member k's activation in hidden layer `layer` (a PReLU's learned slope)."""
        if self.slopes is not None and self.learned(k):
            return torch.where(z > 0, torch.ones_like(z), self.slopes[k, layer].expand_as(z))
        return self.acts[k].derivative(z, a)

    def forward(
        self, x: Tensor, dropout: float = 0.0, gen: torch.Generator | None = None
    ) -> tuple[Tensor, list[tuple[Tensor, Tensor, Tensor | None]]]:
        """Logits [K, B, C] and, per hidden layer, (z, f(z), dropout scale or None)."""
        cache: list[tuple[Tensor, Tensor, Tensor | None]] = []
        h: Tensor = x
        for i in range(len(self.layers) - 1):
            z = self.linear(i, h)
            a = self.activate(z, i)
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
            h = self.activate(self.linear(i, h), i)
        return self.linear(len(self.layers) - 1, h)

    # ----------------------------------------------------------------------- backward

    def backward(
        self, x: Tensor, cache: list[tuple[Tensor, Tensor, Tensor | None]], dlogits: Tensor
    ) -> tuple[list[Tensor], list[Tensor], Tensor | None]:
        """Gradients of every layer's weight and bias, and of the PReLU slopes [K, depth]
        (None without them), given d loss / d logits [K, B, C]."""
        n = len(self.layers)
        gs: list[Tensor] = [torch.empty(0)] * (n - 1)
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
            parts = []
            slope_grads = []
            for k, act in enumerate(self.acts):
                if self.slopes is not None and self.learned(k):
                    # PReLU: dL/dz = dh where z > 0, slope * dh elsewhere; dL/dslope = sum of z dh there
                    neg = z[k] <= 0
                    parts.append(torch.where(neg, dh[k] * self.slopes[k, i - 1], dh[k]))
                    slope_grads.append((z[k] * dh[k] * neg).sum())
                else:
                    parts.append(act.backward(dh[k], z[k], a[k]))
                    slope_grads.append(z.new_zeros(()))
            dz = torch.stack(parts)
            gs[i - 1] = torch.stack(slope_grads)
        if self.slopes is None:
            return gw, gb, None
        return gw, gb, torch.stack(gs, dim=1)


def reference_network(
    activation: str, sizes: list[int], weights: list[tuple[Tensor, Tensor]]
) -> torch.nn.Sequential:
    """The same member as an ordinary torch.nn network (for parity tests and benchmarks):
    a `prelu` member gets a `torch.nn.PReLU()` per hidden layer."""
    act = resolve(activation)

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
            if act.kind == "learned":
                mods.append(torch.nn.PReLU(init=act.param_values["init"]))
            else:
                mods.append(Act())
    return torch.nn.Sequential(*mods)
