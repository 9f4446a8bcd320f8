"""The side-by-side cohort: K MLPs that differ only by hidden activation, stored stacked.

Weights of all members live in one tensor per layer, so a layer of the whole cohort is one
matrix multiply: the first layer as a single GEMM (`x @ W0` with W0 laid out [in, K, out]),
the others as a batched GEMM over members ([K, in, out]). Forward and backward are written
out by hand; tests check them against autograd on an equivalent `torch.nn` network.

A `prelu` member learns one negative slope per hidden layer (as `torch.nn.PReLU()` does),
kept in `slopes` [K, depth]: a column per layer, a row per member (other members' rows are 0
and get no gradient). The slopes are parameters of their member like its weights.

Members may also differ by seed (seeds stacked in one cohort, sweeps): each member then starts
from its own seed's weights, and members are grouped by seed, in contiguous runs of slots. A
training batch is then [G, B, in], one batch per group: the first layer is one matrix multiply
per group (on a slice of the stacked weight, no copy); later layers do not care. Members that
share an activation are activated together (one call on their slots), so a cohort of many
seeds and learning rates costs about as many activation calls as it has distinct activations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .activation_ops import TorchActivation, torch_ops
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
    """One layer's weight [out, in] and bias [out], as torch.nn.Linear lays them out.
    "gaussian": the unit draws N(0, 1) of both, which `scaled` turns into the init."""
    shape = (fan_out, fan_in)
    zeros_b = torch.zeros(fan_out)
    if scheme == "gaussian":  # weights first, then biases, as every scheme draws them
        w = torch.randn(shape, generator=gen)
        return w, torch.randn(fan_out, generator=gen)
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


def scaled(
    unit: list[tuple[Tensor, Tensor]], sigma_w2: float, sigma_b2: float
) -> list[tuple[Tensor, Tensor]]:
    """The gaussian init from its unit draws: weights N(0, sigma_w2 / fan_in), biases N(0, sigma_b2),
    every layer (the output layer too). Members that differ only in sigma scale the same draws,
    so their comparison stays paired."""
    return [(w * math.sqrt(sigma_w2 / w.shape[1]), b * math.sqrt(sigma_b2)) for w, b in unit]


def initial_parameters(
    sizes: list[int], scheme: str, seed: int, sigma_w2: float = 1.0, sigma_b2: float = 0.0
) -> list[tuple[Tensor, Tensor]]:
    """The weights every member starts from: same seed, same tensors, layer by layer.
    sigma_w2 and sigma_b2 are the gaussian scheme's variances (other schemes ignore them)."""
    params = draws(sizes, scheme, seed)
    return scaled(params, sigma_w2, sigma_b2) if scheme == "gaussian" else params


def draws(sizes: list[int], scheme: str, seed: int) -> list[tuple[Tensor, Tensor]]:
    """`init_weight` of every layer from one generator seeded `seed` (gaussian: unit draws)."""
    gen = torch.Generator().manual_seed(seed)
    return [init_weight(scheme, sizes[i + 1], sizes[i], gen) for i in range(len(sizes) - 1)]


# ----------------------------------------------------------------------------- cohort


class Cohort:
    """K members, identical in shape, with their weights stacked along a member axis."""

    def __init__(
        self,
        activations: list[str],
        sizes: list[int],
        init: str | list[str],
        seed: int | list[int],
        device: torch.device,
        dtype: torch.dtype = torch.float32,
        sigma_w2: float | list[float] = 1.0,
        sigma_b2: float | list[float] = 0.0,
    ) -> None:
        """`init`, `seed` and the gaussian init's `sigma_w2`, `sigma_b2` are one for all members,
        or one per member (a list)."""
        self.names = list(activations)
        self.acts: list[Activation] = [resolve(a) for a in activations]
        self.ops: list[TorchActivation] = [torch_ops(a) for a in self.acts]  # what the step runs
        self.sizes = list(sizes)
        self.device = device
        K = len(activations)
        inits = list(init) if isinstance(init, list) else [init] * K
        seeds = list(seed) if isinstance(seed, list) else [seed] * K
        sw2s = list(sigma_w2) if isinstance(sigma_w2, list) else [sigma_w2] * K
        sb2s = list(sigma_b2) if isinstance(sigma_b2, list) else [sigma_b2] * K
        # 'recommended': each activation's own scheme, from the same random stream
        schemes = [a.recommended_init if i == "recommended" else i for a, i in zip(self.acts, inits)]
        made: dict[tuple[str, int], list[tuple[Tensor, Tensor]]] = {}
        for key in zip(schemes, seeds):
            if key not in made:  # gaussian: the unit draws, scaled per member below
                made[key] = draws(sizes, *key)
        per_member: list[list[tuple[Tensor, Tensor]]] = []
        by_sigma: dict[tuple[str, int, float, float], list[tuple[Tensor, Tensor]]] = {}
        for scheme, sd, sw2, sb2 in zip(schemes, seeds, sw2s, sb2s):
            own = (scheme, sd, sw2, sb2) if scheme == "gaussian" else (scheme, sd, 1.0, 0.0)
            if own not in by_sigma:
                unit = made[scheme, sd]
                by_sigma[own] = scaled(unit, sw2, sb2) if scheme == "gaussian" else unit
            per_member.append(by_sigma[own])
        # seed groups: contiguous runs of slots with one seed (one training batch each)
        self.group: list[int] = []
        self.group_seeds: list[int] = []
        for sd in seeds:
            if not self.group_seeds or self.group_seeds[-1] != sd:
                self.group_seeds.append(sd)
            self.group.append(len(self.group_seeds) - 1)
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
        self._index()

    def _index(self) -> None:
        """Slots by seed group and by activation, after construction and each `keep`."""
        self.group_ranges: list[tuple[int, int, int]] = []  # (group, first slot, end slot)
        for s, g in enumerate(self.group):
            if self.group_ranges and self.group_ranges[-1][0] == g:
                self.group_ranges[-1] = (g, self.group_ranges[-1][1], s + 1)
            else:
                self.group_ranges.append((g, s, s + 1))
        self.group_index = torch.tensor(self.group, dtype=torch.long, device=self.device)
        by_spec: dict[str, list[int]] = {}
        for k, name in enumerate(self.names):
            by_spec.setdefault(name, []).append(k)
        # activations shared by several slots are called once on all of them
        self.stacked = any(len(ks) > 1 for ks in by_spec.values())
        self.act_groups = [
            (ks, torch.tensor(ks, dtype=torch.long, device=self.device)) for ks in by_spec.values()
        ]

    @property
    def groups(self) -> int:
        """Seed groups (the batches a training step takes), live or not."""
        return len(self.group_seeds)

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
        idx = torch.tensor(index, dtype=torch.long, device=self.device)
        for layer in self.layers:
            layer.weight = layer.weight.index_select(layer.member_dim, idx).contiguous()
            layer.bias = layer.bias.index_select(0, idx).contiguous()
        if self.slopes is not None:
            self.slopes = self.slopes.index_select(0, idx).contiguous()
        self.names = [self.names[i] for i in index]
        self.acts = [self.acts[i] for i in index]
        self.ops = [self.ops[i] for i in index]
        self.group = [self.group[i] for i in index]
        self._index()

    # ------------------------------------------------------------------------ forward

    def linear(self, i: int, h: Tensor) -> Tensor:
        """Layer i applied to h: [B, in] (one batch for all) or [G, B, in] (one per seed group)
        for the first layer, else [K, B, in] -> [K, B, out]."""
        layer = self.layers[i]
        if layer.first:
            n_in, K, n_out = layer.weight.shape
            if h.dim() == 2:
                z = torch.addmm(layer.bias.reshape(K * n_out), h, layer.weight.reshape(n_in, K * n_out))
                return z.reshape(h.shape[0], K, n_out).transpose(0, 1)
            # one GEMM per seed group on its slice of the stacked weight, written in place into
            # its slice of the output (strided views, no copies)
            B = h.shape[1]
            z = layer.bias.unsqueeze(0).expand(B, K, n_out).contiguous()
            for g, s, e in self.group_ranges:
                n = e - s
                w = layer.weight[:, s:e].view(n_in, n * n_out)
                z[:, s:e].view(B, n * n_out).addmm_(h[g], w)
            return z.transpose(0, 1)
        return torch.baddbmm(layer.bias.unsqueeze(1), h, layer.weight)

    def activate(self, z: Tensor, layer: int = 0) -> Tensor:
        """Each member's own activation on its slice of z [K, B, H] of hidden layer `layer`;
        returns contiguous. Slots sharing an activation are activated in one call."""
        if not self.stacked:
            return torch.stack([self.act_fn(k, layer, z[k]) for k in range(len(self.acts))])
        out = torch.empty(z.shape, dtype=z.dtype, device=z.device)
        for ks, idx in self.act_groups:
            k = ks[0]
            zz = z.index_select(0, idx)
            if self.slopes is not None and self.learned(k):
                slope = self.slopes.index_select(0, idx)[:, layer].view(-1, 1, 1)
                out.index_copy_(0, idx, torch.where(zz > 0, zz, zz * slope))
            else:
                out.index_copy_(0, idx, self.ops[k].fn(zz))
        return out

    def act_fn(self, k: int, layer: int, z: Tensor) -> Tensor:
        if self.slopes is not None and self.learned(k):
            return torch.nn.functional.prelu(z, self.slopes[k, layer : layer + 1])
        return self.ops[k].fn(z)

    def derivative(self, k: int, layer: int, z: Tensor, a: Tensor) -> Tensor:
        """f'(z) of member k's activation in hidden layer `layer` (a PReLU's learned slope)."""
        if self.slopes is not None and self.learned(k):
            return torch.where(z > 0, torch.ones_like(z), self.slopes[k, layer].expand_as(z))
        return self.ops[k].derivative(z, a)

    def forward(
        self,
        x: Tensor,
        dropout: float | Tensor = 0.0,
        gen: torch.Generator | list[torch.Generator] | None = None,
    ) -> tuple[Tensor, list[tuple[Tensor, Tensor, Tensor | None]]]:
        """Logits [K, B, C] and, per hidden layer, (z, f(z), dropout scale or None).

        x: [B, in], or [G, B, in] with one batch per seed group. dropout: one rate, or a rate
        per slot [K] (then `gen` is one generator per seed group)."""
        cache: list[tuple[Tensor, Tensor, Tensor | None]] = []
        h: Tensor = x
        for i in range(len(self.layers) - 1):
            z = self.linear(i, h)
            a = self.activate(z, i)
            mask = None
            if isinstance(dropout, Tensor):
                mask = self._dropout_mask(a, dropout, gen)
                h = a * mask
            elif dropout > 0.0:
                # one mask for the whole cohort, so members see the same dropped units
                g0 = gen[0] if isinstance(gen, list) else gen
                keep = torch.rand(a.shape[1:], device=a.device, generator=g0) >= dropout
                mask = keep.to(a.dtype) / (1.0 - dropout)
                h = a * mask
            else:
                h = a
            cache.append((z, a, mask))
        return self.linear(len(self.layers) - 1, h), cache

    def _dropout_mask(
        self, a: Tensor, rate: Tensor, gen: torch.Generator | list[torch.Generator] | None
    ) -> Tensor:
        """Per-slot rates: each seed group draws one uniform field from its own generator (as
        the member would alone); a slot keeps the units where it is >= its rate, so members of
        a group at equal rates drop the same units, and a higher rate drops a superset."""
        gens = gen if isinstance(gen, list) else [gen] * self.groups
        fields = [torch.rand(a.shape[1:], device=a.device, generator=g) for g in gens]
        u = torch.stack(fields).index_select(0, self.group_index)  # [K, B, H]
        r = rate.view(-1, 1, 1)
        return (u >= r).to(a.dtype) / (1.0 - r)

    def logits(self, x: Tensor) -> Tensor:
        h: Tensor = x
        for i in range(len(self.layers) - 1):
            h = self.activate(self.linear(i, h), i)
        return self.linear(len(self.layers) - 1, h)

    # ----------------------------------------------------------------------- backward

    def backward(
        self,
        x: Tensor,
        cache: list[tuple[Tensor, Tensor, Tensor | None]],
        dlogits: Tensor,
        per_sample: list[Tensor] | None = None,
    ) -> tuple[list[Tensor], list[Tensor], Tensor | None]:
        """Gradients of every layer's weight and bias, and of the PReLU slopes [K, depth]
        (None without them), given d loss / d logits [K, B, C]. `per_sample`, when given, is
        filled with each layer's per-sample squared weight-gradient norms [K, B], of the loss
        as dlogits has it: |dz_s|^2 |h_s|^2, since one sample's gradient is an outer product."""
        n = len(self.layers)
        gs: list[Tensor] = [torch.empty(0)] * (n - 1)
        gw: list[Tensor] = [torch.empty(0)] * n
        gb: list[Tensor] = [torch.empty(0)] * n
        sq: list[Tensor] = [torch.empty(0)] * n
        dz = dlogits
        for i in range(n - 1, -1, -1):
            layer = self.layers[i]
            gb[i] = dz.sum(dim=1)
            if per_sample is not None:
                sq[i] = dz.pow(2).sum(-1) * self._input_sq(i, x, cache)
            if layer.first:
                K, B, n_out = dz.shape
                if x.dim() == 2:
                    dz_flat = dz.transpose(0, 1).reshape(B, K * n_out)
                    gw[i] = (x.t() @ dz_flat).reshape(x.shape[1], K, n_out)
                    break
                n_in = x.shape[2]
                gw[i] = torch.empty(n_in, K, n_out, dtype=dz.dtype, device=dz.device)
                for g, s, e in self.group_ranges:  # into the group's slice, in place (beta 0)
                    dz_g = dz[s:e].transpose(0, 1).reshape(B, (e - s) * n_out)
                    gw[i][:, s:e].view(n_in, (e - s) * n_out).addmm_(x[g].t(), dz_g, beta=0)
                break
            z, a, mask = cache[i - 1]
            h_in = a if mask is None else a * mask
            gw[i] = torch.bmm(h_in.transpose(1, 2), dz)
            dh = torch.bmm(dz, layer.weight.transpose(1, 2))
            if mask is not None:
                dh = dh * mask
            if self.stacked:
                dz, gs[i - 1] = self._act_backward(i - 1, dh, z, a)
                continue
            parts = []
            slope_grads = []
            for k, ops in enumerate(self.ops):
                if self.slopes is not None and self.learned(k):
                    # PReLU: dL/dz = dh where z > 0, slope * dh elsewhere; dL/dslope = sum of z dh there
                    neg = z[k] <= 0
                    parts.append(torch.where(neg, dh[k] * self.slopes[k, i - 1], dh[k]))
                    slope_grads.append((z[k] * dh[k] * neg).sum())
                else:
                    parts.append(ops.backward(dh[k], z[k], a[k]))
                    slope_grads.append(z.new_zeros(()))
            dz = torch.stack(parts)
            gs[i - 1] = torch.stack(slope_grads)
        if per_sample is not None:
            per_sample[:] = sq
        if self.slopes is None:
            return gw, gb, None
        return gw, gb, torch.stack(gs, dim=1)

    def _input_sq(self, i: int, x: Tensor, cache: list[tuple[Tensor, Tensor, Tensor | None]]) -> Tensor:
        """|h_s|^2 of layer i's input per member and sample [K, B] (or [B]: one batch for all)."""
        if i == 0:
            h2 = x.pow(2).sum(-1)  # [B], or [G, B]: a batch per seed group
            return h2.index_select(0, self.group_index) if x.dim() == 3 else h2
        _, a, mask = cache[i - 1]
        return (a if mask is None else a * mask).pow(2).sum(-1)

    def _act_backward(self, layer: int, dh: Tensor, z: Tensor, a: Tensor) -> tuple[Tensor, Tensor]:
        """dL/dz of hidden layer `layer` and dL/dslope per slot [K], slots sharing an
        activation in one call."""
        dz = torch.empty(dh.shape, dtype=dh.dtype, device=dh.device)
        slope_grads = dh.new_zeros(dh.shape[0])
        for ks, idx in self.act_groups:
            k = ks[0]
            dhh, zz = dh.index_select(0, idx), z.index_select(0, idx)
            if self.slopes is not None and self.learned(k):
                slope = self.slopes.index_select(0, idx)[:, layer].view(-1, 1, 1)
                neg = zz <= 0
                dz.index_copy_(0, idx, torch.where(neg, dhh * slope, dhh))
                slope_grads.index_copy_(0, idx, (zz * dhh * neg).sum(dim=(1, 2)))
            else:
                dz.index_copy_(0, idx, self.ops[k].backward(dhh, zz, a.index_select(0, idx)))
        return dz, slope_grads


def reference_network(
    activation: str, sizes: list[int], weights: list[tuple[Tensor, Tensor]]
) -> torch.nn.Sequential:
    """The same member as an ordinary torch.nn network (for parity tests and benchmarks):
    a `prelu` member gets a `torch.nn.PReLU()` per hidden layer."""
    act = resolve(activation)
    ops = torch_ops(act)

    class Act(torch.nn.Module):
        def forward(self, z: Tensor) -> Tensor:
            return ops.fn(z)

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
