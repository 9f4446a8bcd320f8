"""The training loop: a cohort in lockstep, evaluated on a cadence, reported as events.

No host synchronisation happens inside a training step: losses, divergence flags and
clipping counters stay on the device and are read (one `.cpu()` each) at evaluation and
diagnostics points only. A member whose loss turns NaN or Inf is recorded on the device
at that exact iteration; at the next read it is retired from the cohort and frozen.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from . import custom
from .config import ConfigError, RunConfig
from .control import Control as Control  # re-exported: it lives where PyTorch is not loaded
from .data import Dataset, load, resolve_device
from .diagnostics import HIST_EDGES, PROBE_SIZE, probe
from .events import (
    Diagnostics,
    EpochFinished,
    Evaluation,
    Event,
    Listener,
    MemberCosts,
    MemberDiverged,
    Progress,
    RunFinished,
    RunStarted,
)
from .metrics import SummaryBuilder
from .model import Cohort

_NICE = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
PROGRESS_INTERVAL_S = 0.25
COST_SHARE = 0.03  # of the run's planned training time, spent timing each member alone
COST_REFERENCE = "relu"


def resolve_eval_every(config: RunConfig, device: torch.device, test_size: int) -> int:
    """Evaluation cadence. Given: as asked. Auto on a GPU: every 5 iterations (evaluation is
    cheap there). Auto on a CPU: a pass over the whole test split costs about a third of a
    training step per batch-sized slice of it, so evaluating every test_size / batch
    iterations (rounded up to 1, 2, 5, 10, 20...) keeps evaluation near a quarter of the run."""
    if config.eval_every is not None:
        return config.eval_every
    if device.type == "cuda":
        return 5
    target = test_size / config.batch_size
    return next((n for n in _NICE if n >= target), _NICE[-1])


def resolve_diagnostics_every(config: RunConfig, eval_every: int) -> int:
    """Diagnostics cadence: as asked (0 = off), else 5 evaluations apart, at least 50."""
    if config.diagnostics_every is not None:
        return config.diagnostics_every
    return max(50, 5 * eval_every)


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

    def report(self, members: list[int], thresholds: list[float]) -> list[dict[str, float]]:
        """Per slot: clipped fraction since the last report and over the run, mean and largest
        pre-clip norm. A host read; the counters start again."""
        steps = max(1, self.steps)
        counts = self.count.cpu().tolist()
        means = (self.norm_sum / steps).cpu().tolist()
        maxes = self.norm_max.cpu().tolist()
        out = []
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
# (as tensors), the init scheme and the seed (initial weights and batch order).
PER_MEMBER = ("lr", "momentum", "weight_decay", "l1", "clip_threshold", "dropout", "init", "seed")
_SCALARS = ("lr", "momentum", "weight_decay", "l1", "clip_threshold", "dropout")


def member_configs(config: RunConfig, variants: list[dict[str, object]] | None) -> list[RunConfig]:
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
    dropout rate, init and seed; members of one seed see the same batches."""

    def __init__(
        self,
        config: RunConfig,
        data: Dataset,
        device: torch.device,
        variants: list[dict[str, object]] | None = None,
    ) -> None:
        self.config = config
        self.data = data
        self.device = device
        self.sizes = [data.n_features] + [config.width] * config.depth + [data.n_classes]
        configs = member_configs(config, variants)
        self.specs = [c.activations[0] for c in configs]  # member -> activation spec
        self.cohort = Cohort(
            self.specs, self.sizes, [c.init for c in configs], [c.seed for c in configs], device
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
        probe_gen = torch.Generator().manual_seed(12345)
        probe_idx = torch.randperm(n, generator=probe_gen)[: min(PROBE_SIZE, n)].to(device)
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
    def diagnostics(self) -> list[dict[str, object]]:
        """Per-layer mechanisms of every live member on the fixed probe batch, and what
        clipping did since the last time (cohort slot order)."""
        out: list[dict[str, object]] = probe(self.cohort, self.probe_x, self.probe_y, self.loss_and_grad)
        if self.config.clip != "none":
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


def time_alone(
    config: RunConfig,
    data: Dataset,
    specs: list[str],
    steps: int,
    rounds: int = 5,
    budget_s: float | None = None,
    stopped: Callable[[], bool] | None = None,
) -> tuple[list[float], int]:
    """Seconds per training step of each spec alone, and the rounds timed: a one-member
    cohort per spec, at the run's shapes (network, batch, optimizer, clipping, dropout) on
    the data's device. After
    one untimed warm-up step each, `rounds` rounds time `steps` steps of every member in
    turn (the order rotating), so noise from the machine hits all alike; the fastest round
    counts (interference only ever adds time). Past `budget_s`, no further round starts once
    two are done; once `stopped()` (the run was stopped: it must end soon), none after the
    first. The run's own members are untouched: these are separate trainers with
    their own generators."""
    started = time.perf_counter()
    device = data.train_x.device
    trainers = [Trainer(config.replace(activations=(spec,)), data, device) for spec in specs]
    batches = trainers[0].batches()
    times: list[list[float]] = [[] for _ in specs]

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for t in trainers:
        t.step(batches[0])
    for r in range(rounds):
        if budget_s is not None and r >= 2 and time.perf_counter() - started > budget_s:
            break  # a busy machine: what is measured so far stands
        if stopped is not None and r >= 1 and stopped():
            break
        for j in range(len(specs)):
            k = (j + r) % len(specs)
            sync()
            t0 = time.perf_counter()
            for i in range(steps):
                trainers[k].step(batches[(1 + i) % len(batches)])
            sync()
            times[k].append((time.perf_counter() - t0) / steps)
    return [min(ts) for ts in times], len(times[0])


class Comparison:
    """One comparison from start to finish: the loop object behind `run`.

    `run()` reads top to bottom: start, then per epoch the training steps with evaluations
    and diagnostics on their cadences, then the end. Time spent paused counts as neither
    training nor elapsed time; evaluation and diagnostics time is kept out of epoch time.
    """

    def __init__(
        self,
        config: RunConfig,
        listener: Listener | None,
        control: Control,
        data: Dataset,
        variants: list[dict[str, object]] | None = None,
    ) -> None:
        self.config = config
        self.listener = listener
        self.control = control
        self.data = data
        self.variants = variants
        self.device = data.train_x.device
        self.builder = SummaryBuilder()
        torch.manual_seed(config.seed)
        self.trainer = Trainer(config, data, self.device, variants)
        self.specs = self.trainer.specs  # member -> activation spec
        self.eval_every = resolve_eval_every(config, self.device, int(data.test_x.shape[0]))
        self.diag_every = resolve_diagnostics_every(config, self.eval_every)
        self.per_epoch = self.trainer.iterations_per_epoch
        total = self.per_epoch * config.epochs
        self.total = total if config.max_iterations is None else min(total, config.max_iterations)
        self.members = len(self.specs)
        self.t_start = 0.0  # moved on by pauses
        self.last_progress = 0.0
        self.costs_measured = False
        from .threads import for_run

        self.threads = for_run(self.device)  # times the steps and picks the CPU thread count

    def emit(self, event: Event) -> None:
        if not isinstance(event, Progress):
            self.builder.feed(event)
        if self.listener is not None:
            self.listener(event)

    def run(self) -> dict[str, object]:
        self.start()
        status = "done"
        try:
            for epoch in range(1, self.config.epochs + 1):
                status = self.train_epoch(epoch)
                if status != "going":
                    break
            status = "done" if status in ("going", "ended") else status
            if self.diag_every and self.trainer.members and self.trainer.iteration % self.diag_every:
                self.probe()  # the summary's diagnostics describe the end of the run
        except KeyboardInterrupt:
            self.emit(RunFinished("stopped", self.trainer.iteration, self.elapsed()))
            raise
        except Exception as exc:
            self.emit(
                RunFinished("error", self.trainer.iteration, self.elapsed(), f"{type(exc).__name__}: {exc}")
            )
            raise
        self.emit(RunFinished(status, self.trainer.iteration, round(self.elapsed(), 3)))
        return self.builder.summary()

    def start(self) -> None:
        self.emit(
            RunStarted(
                config=self.config.to_dict(),
                members=list(self.specs),
                baseline=self.config.baseline,
                dataset=self.data.info(),
                device=str(self.device),
                eval_every=self.eval_every,
                diagnostics_every=self.diag_every,
                iterations_per_epoch=self.per_epoch,
                total_iterations=self.total,
                layer_sizes=self.trainer.sizes,
                custom_activations=[
                    custom.describe(a.name)
                    for a in self.trainer.cohort.acts[: len(self.config.activations)]
                    if a.kind == "custom"
                ],
                cohort=None
                if not self.variants
                else {
                    "members": self.members,
                    "member_settings": [dict(v) for v in self.variants for _ in self.config.activations],
                },
            )
        )
        self.t_start = self.last_progress = time.perf_counter()

    def train_epoch(self, epoch: int) -> str:
        """One epoch's steps; "going" on to the next epoch, or how the run ends: "ended" (the
        last iteration, or no member left), "stopped"."""
        trainer = self.trainer
        self.sync()
        t_epoch = time.perf_counter()
        side_s = 0.0  # evaluation and diagnostics: not training time
        last_eval = -1
        outcome = "going"
        for idx in trainer.batches():
            t_epoch += self.hold_while_paused(epoch)
            if self.control.stopped:
                outcome = "stopped"
                break
            if not trainer.members:
                outcome = "ended"
                break
            self.threads.step(trainer.step, idx)
            it = trainer.iteration
            if it % self.eval_every == 0:
                side_s += self.evaluate(epoch)
                last_eval = it
            if self.diag_every and it % self.diag_every == 0:
                side_s += self.probe()
            self.report_progress(epoch)
            if it >= self.total:
                outcome = "ended"
                break
        if trainer.members and last_eval != trainer.iteration and trainer.iteration > 0:
            side_s += self.evaluate(epoch)  # every epoch ends with an evaluation
        self.sync()
        seconds = time.perf_counter() - t_epoch - side_s
        trained = trainer.iteration - (epoch - 1) * self.per_epoch
        if trained > 0:
            timing = (round(seconds, 6), round(side_s, 6), self.threads.count)
            self.emit(EpochFinished(epoch, trainer.iteration, trained, *timing))
            if not self.costs_measured and outcome != "stopped":
                self.measure_costs(seconds / trained)
        return outcome

    def measure_costs(self, lockstep_step_s: float) -> None:
        """Each member's epoch alone, once, after the first epoch: timed steps of one-member
        cohorts (`time_alone`) within COST_SHARE of the run's planned training time."""
        self.costs_measured = True
        t0 = time.perf_counter()
        specs = list(self.config.activations)
        timed = specs if COST_REFERENCE in specs else [*specs, COST_REFERENCE]
        # a member alone costs about 2/K of a lockstep step of K (lockstep wins up to 2x)
        alone_guess = 2.0 * lockstep_step_s / max(1, len(specs))
        budget = COST_SHARE * lockstep_step_s * self.total
        rounds = 5
        steps = (int(budget / (alone_guess * len(timed))) - 1) // rounds
        steps = max(1, min(50, steps))
        # a stop (the user's, or the app gone) ends the measurement after its first round
        per_step, done = time_alone(
            self.config, self.data, timed, steps, rounds, budget, lambda: self.control.stopped
        )
        alone = [round(s * self.per_epoch, 6) for s in per_step]
        self.sync()
        self.emit(
            MemberCosts(
                epoch_time_alone_s=[alone[timed.index(a)] for a in self.specs],
                reference=COST_REFERENCE,
                reference_epoch_time_alone_s=alone[timed.index(COST_REFERENCE)],
                steps=steps * done,
                rounds=done,
                seconds=round(time.perf_counter() - t0, 6),
            )
        )

    def hold_while_paused(self, epoch: int) -> float:
        """Wait out a pause; the seconds it lasted (taken off the clocks)."""
        if not self.control.paused:
            return 0.0
        paused_at = time.perf_counter()
        self.emit(Progress(self.trainer.iteration, epoch, paused_at - self.t_start))  # exact, at the pause
        self.control.wait_while_paused()
        pause = time.perf_counter() - paused_at
        self.t_start += pause
        self.last_progress += pause
        return pause

    def report_progress(self, epoch: int) -> None:
        now = time.perf_counter()
        if now - self.last_progress >= PROGRESS_INTERVAL_S:
            self.last_progress = now
            self.emit(Progress(self.trainer.iteration, epoch, now - self.t_start))

    def retire_diverged(self) -> None:
        for member, at in self.trainer.read_divergence():
            self.emit(MemberDiverged(member, self.specs[member], at))

    def evaluate(self, epoch: int) -> float:
        """Test accuracy and loss of every live member; the seconds it took."""
        t0 = time.perf_counter()
        trainer = self.trainer
        self.retire_diverged()
        if not trainer.members:
            return time.perf_counter() - t0
        acc, tloss = trainer.evaluate(self.data.test_x, self.data.test_y)
        st = trainer.st
        train_loss = (st.loss_sum / max(1, st.loss_count)).cpu()  # host sync: evaluation point
        st.loss_sum.zero_()
        st.loss_count = 0
        K = self.members
        self.emit(
            Evaluation(
                iteration=trainer.iteration,
                epoch=epoch,
                accuracy=_rounded(trainer.expand(acc.cpu(), K)),
                test_loss=_rounded(trainer.expand(tloss.cpu(), K)),
                train_loss=_rounded(trainer.expand(train_loss, K)),
            )
        )
        return time.perf_counter() - t0

    def probe(self) -> float:
        """Diagnostics of every live member; the seconds they took."""
        t0 = time.perf_counter()
        trainer = self.trainer
        self.retire_diverged()
        if trainer.members:
            members: list[dict[str, object] | None] = [None] * self.members
            per_slot = trainer.diagnostics()
            for s, m in enumerate(trainer.members):
                members[m] = per_slot[s]
            self.emit(Diagnostics(trainer.iteration, members, HIST_EDGES))
        return time.perf_counter() - t0

    def elapsed(self) -> float:
        return time.perf_counter() - self.t_start

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def run(
    config: RunConfig,
    listener: Listener | None = None,
    control: Control | None = None,
    data: Dataset | None = None,
    variants: list[dict[str, object]] | None = None,
) -> dict[str, object]:
    """Run one comparison; report each event to `listener`; return the summary. With
    `variants`, the comparison is repeated for each (seeds, learning rates...) in one cohort:
    see `Trainer`."""
    config.validate()
    for c in member_configs(config, variants)[:: len(config.activations)]:
        c.validate()
    check_members(config)
    device = resolve_device(config.device)
    if device.type == "cuda":
        # TF32 matmuls on Ampere and later: about 8x the FP32 rate; every member gets the same
        # numerics, so the comparison stays fair.
        torch.backends.cuda.matmul.allow_tf32 = True
    if data is None:
        data = load(config, device)
    return Comparison(config, listener, control or Control(), data, variants).run()


def check_members(
    config: RunConfig, isolated: bool = False, stopped: Callable[[], bool] | None = None
) -> bool:
    """Import and check every custom member (once per process); ConfigError names the first
    that fails, in one line. `isolated` (batch mode, the app's engine process): the checks
    run in a helper process first, bounded in time (`custom_process`), and only their answers
    come back here, with the import of the function; False when `stopped()` turned true
    meanwhile (nothing checked), else True."""
    if isolated:
        from .activations import member_spec
        from .custom_process import Stopped, check_in_child

        todo = [s for s in config.activations if member_spec(s).kind == "custom" and not custom.resolved(s)]
        try:
            answers = check_in_child(todo, stopped)
            for answer in answers:  # in the members' order: the first bad one is named
                if "error" in answer:
                    raise ConfigError(str(answer["error"]))
            for answer in answers:
                custom.adopt(answer["description"])
        except Stopped:
            return False
        except custom.SpecError as exc:
            raise ConfigError(str(exc)) from None
    for spec in config.activations:
        try:
            custom.resolve(spec)
        except custom.SpecError as exc:
            raise ConfigError(str(exc)) from None
    return True


def _rounded(values: list[float | None]) -> list[float | None]:
    return [None if v is None else round(v, 6) for v in values]
