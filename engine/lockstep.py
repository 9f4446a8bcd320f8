"""The cohort's lockstep step: one `Trainer` holds every member's weights, optimizer state and
data, and `step()` trains them all on one mini-batch at once.

No host synchronisation happens inside a training step: losses, divergence flags and
clipping counters stay on the device and are read (one `.cpu()` each) at evaluation and
diagnostics points only. A member whose loss turns NaN or Inf is recorded on the device
at that exact iteration; at the next read it is retired from the cohort and frozen.
Per-member settings (`PER_MEMBER`) let one cohort hold several seeds or learning rates.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .config import ConfigError, RunConfig
from .data import Dataset
from .diagnostics import probe, probe_indices
from .events import ClippingDiagnostics, MemberDiagnostics, SettingValue
from .model import Cohort


@dataclass
class StepState:
    """Device-side bookkeeping of the cohort between host reads."""

    alive: Tensor  # [K] bool
    diverged_at: Tensor  # [K] int64, 0 = not diverged
    loss_sum: Tensor  # [K] training loss summed since the last evaluation
    loss_count: int


class ClipCounters:
    """What clipping did since the last diagnostics, per cohort slot, kept on the device
    (read at diagnostics points only), and the whole run's share of clipped steps per member."""

    def __init__(self, size: int, device: torch.device) -> None:
        self.count = torch.zeros(size, device=device)  # steps clipped
        self.norm_sum = torch.zeros(size, device=device)  # pre-clip global norm, summed
        self.norm_max = torch.zeros(size, device=device)
        self.steps = 0
        self.totals: dict[int, list[float]] = {}  # member -> [steps clipped, steps]

    def record(self, pre: Tensor, clipped: Tensor) -> None:
        pre = torch.nan_to_num(pre, nan=0.0, posinf=0.0)
        self.count += clipped
        self.norm_sum += pre
        self.norm_max = torch.maximum(self.norm_max, pre)
        self.steps += 1

    def keep(self, idx: Tensor) -> None:
        for name in ("count", "norm_sum", "norm_max"):
            setattr(self, name, getattr(self, name).index_select(0, idx))

    def report(self, members: list[int], thresholds: list[float]) -> list[ClippingDiagnostics]:
        """Per slot: clipped fraction since the last report and over the run, mean and largest
        pre-clip norm. A host read; the counters start again."""
        steps = max(1, self.steps)
        counts = self.count.cpu().tolist()
        means = (self.norm_sum / steps).cpu().tolist()
        maxes = self.norm_max.cpu().tolist()
        out: list[ClippingDiagnostics] = []
        for k, m in enumerate(members):
            total = self.totals.setdefault(m, [0.0, 0])
            total[0] += counts[k]
            total[1] += self.steps
            out.append(
                {
                    "clipped_fraction": round(counts[k] / steps, 6),
                    "clipped_fraction_total": round(total[0] / max(1, total[1]), 6),
                    "preclip_norm": round(means[k], 6),
                    "preclip_norm_max": round(maxes[k], 6),
                    "threshold": thresholds[k],
                }
            )
        self.count.zero_()
        self.norm_sum.zero_()
        self.norm_max.zero_()
        self.steps = 0
        return out


# Settings that may differ between members of one cohort: scalars the step takes per member
# (as tensors), the init scheme with its gaussian variances, and the seed (initial weights and
# batch order).
PER_MEMBER = (
    "lr",
    "momentum",
    "weight_decay",
    "l1",
    "clip_threshold",
    "dropout",
    "init",
    "sigma_w2",
    "sigma_b2",
    "seed",
)
_SCALARS = ("lr", "momentum", "weight_decay", "l1", "clip_threshold", "dropout")


def member_configs(config: RunConfig, variants: list[dict[str, SettingValue]] | None) -> list[RunConfig]:
    """Each member's own settings: the activations of `config` for each variant in turn
    (variant-major: member = variant * len(activations) + activation)."""
    if not variants:
        return [config.replace(activations=(a,)) for a in config.activations]
    out: list[RunConfig] = []
    for v in variants:
        unknown = sorted(set(v) - set(PER_MEMBER))
        if unknown:
            raise ConfigError(
                f"per-member setting(s) {', '.join(unknown)}: only {', '.join(PER_MEMBER)} may differ "
                "between the members of one cohort"
            )
        cv = config.replace(**v)
        out.extend(cv.replace(activations=(a,)) for a in config.activations)
    return out


class Trainer:
    """One cohort, its optimizer state and its data; `step()` is one iteration.

    With `variants` (dicts of PER_MEMBER settings), the cohort holds every activation once per
    variant, each member with its own learning rate, momentum, L1/L2, clipping threshold,
    dropout rate, init (with its gaussian sigma_w2, sigma_b2) and seed; members of one seed see
    the same batches."""

    def __init__(
        self,
        config: RunConfig,
        data: Dataset,
        device: torch.device,
        variants: list[dict[str, SettingValue]] | None = None,
    ) -> None:
        self.config = config
        self.data = data
        self.device = device
        self.sizes = [data.n_features] + [config.width] * config.depth + [data.n_classes]
        configs = member_configs(config, variants)
        self.specs = [c.activations[0] for c in configs]  # member -> activation spec
        self.cohort = Cohort(
            self.specs,
            self.sizes,
            [c.init for c in configs],
            [c.seed for c in configs],
            device,
            sigma_w2=[c.sigma_w2 for c in configs],
            sigma_b2=[c.sigma_b2 for c in configs],
        )
        self.members = list(range(len(configs)))  # cohort slot -> member index
        K = self.cohort.size
        # per-member scalars: a [K] tensor each, and the value when all members share it
        self.hp = {
            name: torch.tensor([float(getattr(c, name)) for c in configs], device=device) for name in _SCALARS
        }
        self.uniform: dict[str, float | None] = {}
        for name in _SCALARS:
            values = {float(getattr(c, name)) for c in configs}
            self.uniform[name] = values.pop() if len(values) == 1 else None
        self._views: dict[str, list[Tensor]] = {}
        self.state = [torch.zeros_like(p) for p in self.cohort.parameters()]
        self.state2 = (
            [torch.zeros_like(p) for p in self.cohort.parameters()] if config.optimizer == "adam" else []
        )
        self.steps_taken = 0
        self.clipping = ClipCounters(K, device)
        self.iteration = 0
        self.iter_tensor = torch.zeros((), dtype=torch.int64, device=device)
        self.st = StepState(
            alive=torch.ones(K, dtype=torch.bool, device=device),
            diverged_at=torch.zeros(K, dtype=torch.int64, device=device),
            loss_sum=torch.zeros(K, device=device),
            loss_count=0,
        )
        # batch order and dropout masks: one generator per seed group
        seeds = self.cohort.group_seeds
        self.gens = [torch.Generator(device="cpu").manual_seed(sd + 1) for sd in seeds]
        self.dropout_gens = (
            [torch.Generator(device=device).manual_seed(sd + 2) for sd in seeds]
            if any(c.dropout > 0 for c in configs)
            else None
        )
        n = data.train_x.shape[0]
        self.iterations_per_epoch = max(1, n // config.batch_size)  # last partial batch dropped
        probe_idx = probe_indices(n).to(device)
        self.probe_x = data.train_x[probe_idx]
        self.probe_y = data.train_y[probe_idx]
        self.eye = torch.eye(data.n_classes, device=device)

    # ------------------------------------------------------------------------- pieces

    def batches(self) -> list[Tensor]:
        """One epoch of mini-batch index tensors: slices of a seeded permutation, [B] each;
        [G, B] (a batch per seed group) when the cohort holds several seeds."""
        n = self.data.train_x.shape[0]
        B = self.config.batch_size
        perms = [torch.randperm(n, generator=g).to(self.device) for g in self.gens]
        if len(perms) == 1:
            return [perms[0][i * B : (i + 1) * B] for i in range(self.iterations_per_epoch)]
        both = torch.stack(perms)
        return [both[:, i * B : (i + 1) * B] for i in range(self.iterations_per_epoch)]

    def loss_and_grad(self, logits: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Per-member mean loss [K] and d loss / d logits [K, B, C]; y is [B] (one batch for
        all) or [K, B] (each member's own)."""
        K, B = logits.shape[0], y.shape[-1]
        if self.config.loss == "cross_entropy":
            logp = torch.log_softmax(logits, dim=-1)
            yk = y.expand(K, B) if y.dim() == 1 else y
            loss = -logp.gather(-1, yk.unsqueeze(-1)).squeeze(-1).mean(1)
            dlogits = logp.exp()
            if y.dim() == 1:
                dlogits[:, torch.arange(B, device=y.device), y] -= 1.0
            else:
                dlogits.scatter_add_(-1, yk.unsqueeze(-1), torch.full_like(dlogits[..., :1], -1.0))
            return loss, dlogits / B
        # mean squared error between softmax output and one-hot target, as in the seed
        p = torch.softmax(logits, dim=-1)
        diff = p - self.eye[y]
        C = logits.shape[-1]
        loss = (diff * diff).mean(dim=(1, 2))
        dp = diff * (2.0 / (B * C))
        dlogits = p * (dp - (dp * p).sum(-1, keepdim=True))
        return loss, dlogits

    def _member_sum(self, tensors: list[Tensor], fn: Callable[[Tensor], Tensor], reduce: str) -> Tensor:
        parts = []
        for t, layer_param in zip(tensors, self._member_dims()):
            dims = [d for d in range(t.dim()) if d != layer_param]
            v = fn(t)
            parts.append(v.amax(dim=dims) if reduce == "max" else v.sum(dim=dims))
        stacked = torch.stack(parts)
        return stacked.amax(0) if reduce == "max" else stacked.sum(0)

    def _member_dims(self) -> list[int]:
        return self.cohort.member_dims()

    def _member_shape(self, t: Tensor, member_dim: int) -> list[int]:
        shape = [1] * t.dim()
        shape[member_dim] = -1
        return shape

    def views(self, name: str) -> list[Tensor]:
        """A per-member setting shaped to broadcast against each of `parameters()`."""
        if name not in self._views:
            v = self.hp[name]
            self._views[name] = [
                v.view(self._member_shape(p, d))
                for p, d in zip(self.cohort.parameters(), self._member_dims())
            ]
        return self._views[name]

    def clip(self, grads: list[Tensor]) -> None:
        cfg = self.config
        if cfg.clip == "none":
            return
        same = self.uniform["clip_threshold"]
        threshold: float | Tensor = same if same is not None else self.hp["clip_threshold"]
        if cfg.clip == "value":
            pre = self._member_sum(grads, lambda g: g * g, "sum").sqrt()
            if same is not None:
                for g in grads:
                    g.clamp_(-same, same)
            else:
                for g, v in zip(grads, self.views("clip_threshold")):
                    g.clamp_(min=-v, max=v)
            clipped = self._member_sum(grads, torch.abs, "max") >= threshold
        else:
            if cfg.clip == "l2":
                pre = self._member_sum(grads, lambda g: g * g, "sum").sqrt()
            elif cfg.clip == "l1":
                pre = self._member_sum(grads, torch.abs, "sum")
            else:
                pre = self._member_sum(grads, torch.abs, "max")
            clipped = pre > threshold
            # g * threshold / norm(g) where the norm exceeds the threshold
            scale = torch.where(clipped, threshold / pre, torch.ones_like(pre))
            for g, md in zip(grads, self._member_dims()):
                g.mul_(scale.view(self._member_shape(g, md)))
        self.clipping.record(pre, clipped)

    def optimizer_step(self, params: list[Tensor], grads: list[Tensor]) -> None:
        """SGD with momentum or Adam, written out to match torch.optim's formulas exactly,
        over all tensors at once (foreach kernels: a few launches, not a few per tensor)."""
        cfg = self.config
        self.steps_taken += 1
        same = self.uniform  # a setting every member shares is a plain scalar: the fast path
        wd = same["weight_decay"]
        if wd is None or wd > 0:  # L2 on weights and PReLU slopes, not biases
            which = [i for i, flag in enumerate(self.cohort.regularized()) if flag]
            if wd is not None:
                decayed = torch._foreach_add([grads[i] for i in which], [params[i] for i in which], alpha=wd)
            else:
                views = self.views("weight_decay")
                decayed = torch._foreach_addcmul(
                    [grads[i] for i in which], [params[i] for i in which], [views[i] for i in which]
                )
            grads = list(grads)
            for i, g in zip(which, decayed):
                grads[i] = g
        lr = same["lr"]
        if cfg.optimizer == "sgd":
            mom = same["momentum"]
            if mom is None or mom > 0:
                torch._foreach_mul_(self.state, mom if mom is not None else self.views("momentum"))
                torch._foreach_add_(self.state, grads)
                grads = self.state
            if lr is not None:
                torch._foreach_add_(params, grads, alpha=-lr)
            else:
                torch._foreach_addcmul_(params, grads, self.views("lr"), value=-1.0)
            return
        b1, b2, eps = 0.9, 0.999, 1e-8
        m, v = self.state, self.state2
        torch._foreach_lerp_(m, grads, 1 - b1)
        torch._foreach_mul_(v, b2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - b2)
        t = self.steps_taken
        bc1 = 1 - b1**t
        bc2_sqrt = math.sqrt(1 - b2**t)
        denom = torch._foreach_sqrt(v)
        torch._foreach_div_(denom, bc2_sqrt)
        torch._foreach_add_(denom, eps)
        if lr is not None:
            torch._foreach_addcdiv_(params, m, denom, value=-lr / bc1)
        else:
            update = torch._foreach_div(m, denom)
            torch._foreach_mul_(update, self.views("lr"))
            torch._foreach_add_(params, update, alpha=-1.0 / bc1)

    def step(self, idx: Tensor) -> None:
        """One iteration for every member on the same mini-batch. No host sync."""
        cohort = self.cohort
        x = self.data.train_x[idx]
        y = self.data.train_y[idx]
        if y.dim() == 2:  # a batch per seed group: each member's labels
            y = y.index_select(0, cohort.group_index)
        rate = self.uniform["dropout"]
        # one rate for all and one seed: one mask; else each seed group draws its own masks
        one_mask = rate is not None and (rate == 0 or cohort.groups == 1)
        dropout: float | Tensor = rate if one_mask and rate is not None else self.hp["dropout"]
        logits, cache = cohort.forward(x, dropout, self.dropout_gens)
        loss, dlogits = self.loss_and_grad(logits, y)
        gw, gb, gs = cohort.backward(x, cache, dlogits)
        l1 = self.uniform["l1"]
        if l1 is None or l1 > 0:
            views = self.views("l1")
            for i, layer in enumerate(cohort.layers):
                if l1 is not None:
                    gw[i] = gw[i].add(torch.sign(layer.weight), alpha=l1)
                else:
                    gw[i] = gw[i] + torch.sign(layer.weight) * views[2 * i]
            if gs is not None and cohort.slopes is not None:
                if l1 is not None:
                    gs = gs.add(torch.sign(cohort.slopes), alpha=l1)
                else:
                    gs = gs + torch.sign(cohort.slopes) * views[-1]
        grads = [t for pair in zip(gw, gb) for t in pair]
        if gs is not None:
            grads.append(gs)
        self.clip(grads)
        self.optimizer_step(self.cohort.parameters(), grads)
        self.iteration += 1
        self.iter_tensor += 1
        st = self.st
        bad = ~torch.isfinite(loss)
        st.diverged_at = torch.where(bad & st.alive, self.iter_tensor, st.diverged_at)
        st.alive = st.alive & ~bad
        st.loss_sum += loss.detach()
        st.loss_count += 1

    @torch.no_grad()
    def evaluate(self, x: Tensor, y: Tensor, chunk: int = 4096) -> tuple[Tensor, Tensor]:
        """Accuracy [K] and mean loss [K] on a whole split, on the device."""
        K = self.cohort.size
        correct = torch.zeros(K, device=self.device)
        loss_sum = torch.zeros(K, device=self.device)
        for s in range(0, x.shape[0], chunk):
            xb, yb = x[s : s + chunk], y[s : s + chunk]
            logits = self.cohort.logits(xb)
            correct += (logits.argmax(-1) == yb).sum(1)
            loss, _ = self.loss_and_grad(logits, yb)
            loss_sum += loss * yb.shape[0]
        n = x.shape[0]
        return correct / n, loss_sum / n

    def read_divergence(self) -> list[tuple[int, int]]:
        """Host read (a sync): newly diverged (member, iteration) pairs; retires them."""
        alive = self.st.alive.cpu().tolist()
        if all(alive):
            return []
        at = self.st.diverged_at.cpu().tolist()
        dead = [(self.members[s], int(at[s])) for s, ok in enumerate(alive) if not ok]
        keep = [s for s, ok in enumerate(alive) if ok]
        self._retire(keep)
        return dead

    def _retire(self, keep: list[int]) -> None:
        self.cohort.keep(keep)
        idx = torch.tensor(keep, dtype=torch.long, device=self.device)
        dims = self._member_dims()
        self.state = [t.index_select(d, idx) for t, d in zip(self.state, dims)]
        self.state2 = [t.index_select(d, idx) for t, d in zip(self.state2, dims)]
        st = self.st
        for name in ("alive", "diverged_at", "loss_sum"):
            setattr(st, name, getattr(st, name).index_select(0, idx))
        self.clipping.keep(idx)
        self.hp = {n: v.index_select(0, idx) for n, v in self.hp.items()}
        self._views = {}
        self.members = [self.members[s] for s in keep]

    @torch.no_grad()
    def diagnostics(self) -> list[MemberDiagnostics]:
        """Per-layer mechanisms of every live member on the fixed probe batch, and what
        clipping did since the last time (cohort slot order; None before the first step,
        when no step was clipped or not)."""
        out = probe(self.cohort, self.probe_x, self.probe_y, self.loss_and_grad)
        if self.config.clip != "none" and self.iteration > 0:
            thresholds = self.hp["clip_threshold"].cpu().tolist()
            for entry, clipping in zip(out, self.clipping.report(self.members, thresholds)):
                entry["clipping"] = clipping
        return out

    def expand(self, values: list[float | None] | Tensor, n_members: int) -> list[float | None]:
        """Slot values -> a list over all members, None for retired ones."""
        vals = values.tolist() if isinstance(values, Tensor) else values
        out: list[float | None] = [None] * n_members
        for s, m in enumerate(self.members):
            v = vals[s]
            out[m] = None if v is None or not math.isfinite(v) else float(v)
        return out
