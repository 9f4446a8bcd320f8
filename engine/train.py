"""The training loop: one comparison (`run`, `Comparison`) from start to finish.

A cohort in lockstep (`lockstep.Trainer`) trained epoch by epoch, evaluated and probed on a
cadence, paused and stopped through `Control`, each member's cost alone timed once
(`member_costs`), everything reported as events; and `check_members`, the custom members'
checks before a run.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from . import custom, member_costs
from .config import ConfigError, RunConfig
from .control import Control as Control  # re-exported: it lives where PyTorch is not loaded
from .data import Dataset, load, resolve_device
from .diagnostics import HIST_EDGES
from .events import (
    CohortInfo,
    Diagnostics,
    EpochFinished,
    Evaluation,
    Event,
    Listener,
    MemberDiagnostics,
    MemberDiverged,
    Progress,
    RunFinished,
    RunStarted,
    SettingValue,
)
from .lockstep import Trainer, member_configs
from .metrics import SummaryBuilder
from .results_model import Summary

_NICE = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
PROGRESS_INTERVAL_S = 0.25


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


class Comparison:
    """One comparison from start to finish: the loop object behind `run`.

    `run()` reads top to bottom: start, the diagnostics at initialization (iteration 0), then
    per epoch the training steps with evaluations and diagnostics on their cadences, then the
    end. Time spent paused counts as neither training nor elapsed time; evaluation and
    diagnostics time is kept out of epoch time.
    """

    def __init__(
        self,
        config: RunConfig,
        listener: Listener | None,
        control: Control,
        data: Dataset,
        variants: list[dict[str, SettingValue]] | None = None,
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

    def run(self) -> Summary:
        self.start()
        status = "done"
        try:
            if self.diag_every:
                self.probe()  # at initialization, before the first step: iteration 0
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
        cohort: CohortInfo | None = None
        if self.variants:
            settings = [dict(v) for v in self.variants for _ in self.config.activations]
            cohort = {"members": self.members, "member_settings": settings}
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
                cohort=cohort,
                # a host read, once, before the first step
                input_mean_square=round(float(self.trainer.probe_x.double().pow(2).mean()), 6),
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
        """Each member's epoch alone, once, after the first epoch (`member_costs.measure`)."""
        self.costs_measured = True
        self.emit(
            member_costs.measure(
                self.config,
                self.data,
                self.specs,
                lockstep_step_s,
                self.total,
                self.per_epoch,
                lambda: self.control.stopped,
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
        """Test (and validation) accuracy and loss of every live member; the seconds it took."""
        t0 = time.perf_counter()
        trainer = self.trainer
        self.retire_diverged()
        if not trainer.members:
            return time.perf_counter() - t0
        acc, tloss = trainer.evaluate(self.data.test_x, self.data.test_y)
        val: tuple[list[float | None], list[float | None]] | None = None
        if self.data.val_x is not None and self.data.val_y is not None:
            vacc, vloss = trainer.evaluate(self.data.val_x, self.data.val_y)
            val = (
                _rounded(trainer.expand(vacc.cpu(), self.members)),
                _rounded(trainer.expand(vloss.cpu(), self.members)),
            )
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
                val_accuracy=None if val is None else val[0],
                val_loss=None if val is None else val[1],
            )
        )
        return time.perf_counter() - t0

    def probe(self) -> float:
        """Diagnostics of every live member; the seconds they took."""
        t0 = time.perf_counter()
        trainer = self.trainer
        self.retire_diverged()
        if trainer.members:
            members: list[MemberDiagnostics | None] = [None] * self.members
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
    variants: list[dict[str, SettingValue]] | None = None,
) -> Summary:
    """Run one comparison; report each event to `listener`; return the summary. With
    `variants`, the comparison is repeated for each (seeds, learning rates...) in one cohort:
    see `Trainer`. A validation split left to auto is none here (a sweep's plan resolves it
    before its jobs run: `RunConfig.resolve_validation`)."""
    config = config.resolve_validation(repeated=False).validate()
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
                if "description" in answer:
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
