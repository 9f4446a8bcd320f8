"""The thread tuner's decisions, from made-up step durations (no clock is read), and how runs
and the event stream carry its choice."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from actlab.engine import RunConfig, threads
from actlab.engine.data import Dataset
from actlab.engine.events import EpochFinished, Evaluation, Event, from_dict
from actlab.engine.threads import FixedThreads, ThreadTuner
from actlab.engine.train import run


class Machine:
    """A fake machine: the step time at each thread count, changed by the test (a competitor
    comes or goes), and the thread count the tuner has set."""

    def __init__(self, step_s: dict[int, float], threads: int = 2) -> None:
        self.step_s = step_s
        self.threads = threads
        self.sets: list[int] = []
        self.spent = 0.0  # training time so far

    def set_threads(self, n: int) -> None:
        self.threads = n
        self.sets.append(n)

    def tuner(self, **kw: Any) -> ThreadTuner:
        return ThreadTuner([1, 2], set_threads=self.set_threads, current=self.threads, **kw)

    def train(self, tuner: ThreadTuner, seconds: float) -> None:
        """Steps until `seconds` of training time have passed."""
        end = self.spent + seconds
        while self.spent < end:
            assert tuner.count == self.threads
            s = self.step_s[self.threads]
            self.spent += s
            tuner.record(s)


QUIET = {1: 1.85e-3, 2: 1.33e-3}  # the default network on this 2-core host, measured
CONTENDED = {1: 1.85e-3, 2: 5.0e-3}  # one other busy process


def test_quiet_machine_keeps_all_cores() -> None:
    m = Machine(QUIET)
    tuner = m.tuner()
    m.train(tuner, 1.0)
    assert tuner.choice == 2 and m.threads == 2
    assert m.sets[:2] == [1, 2]  # fewest threads first
    assert tuner.switches == 0
    assert tuner.means[1] == pytest.approx(QUIET[1]) and tuner.means[2] == pytest.approx(QUIET[2])


def test_contended_machine_moves_to_one_thread() -> None:
    m = Machine(CONTENDED)
    tuner = m.tuner()
    m.train(tuner, 0.5)
    assert tuner.choice == 1 and m.threads == 1 and tuner.switches == 1


def test_starved_threads_cost_one_step_a_check() -> None:
    """Another process starving the second thread: a step on 2 threads takes 80x one on 1;
    each check tries 2 for one step only, and goes back to 1."""
    m = Machine({1: 1.85e-3, 2: 0.15})
    tuner = m.tuner()
    m.train(tuner, 1.0)
    assert tuner.choice == 1
    on_two = 0
    checks = tuner.explorations
    while tuner.explorations < checks + 3:
        s = m.step_s[m.threads]
        on_two += m.threads == 2
        m.spent += s
        tuner.record(s)
    m.train(tuner, 0.1)  # the third check done
    assert tuner.choice == 1 and m.threads == 1
    assert on_two == 2  # two checks done, one step each


def test_hysteresis_keeps_the_choice_for_a_small_gain() -> None:
    m = Machine({1: 1.3e-3, 2: 1.33e-3})  # 1 thread 2% faster: not worth a switch
    tuner = m.tuner()
    m.train(tuner, 5.0)
    assert tuner.choice == 2 and tuner.switches == 0
    m.step_s = {1: 1.1e-3, 2: 1.33e-3}  # 17% faster: it is
    m.train(tuner, 20.0)
    assert tuner.choice == 1 and tuner.switches == 1


def test_warm_up_step_after_a_switch_is_not_counted() -> None:
    m = Machine(QUIET)
    tuner = m.tuner()
    assert m.threads == 1
    tuner.record(1.0)  # the first step at a new count: huge (threads woken, memory touched)
    m.train(tuner, 1.0)
    assert tuner.means[1] == pytest.approx(QUIET[1])
    assert tuner.choice == 2


def test_competitor_arriving_is_noticed_before_the_next_check() -> None:
    m = Machine(QUIET)
    tuner = m.tuner()
    m.train(tuner, 40.0)  # confirmed a few times: the interval has grown
    assert tuner.choice == 2 and tuner.interval_s > tuner.base_interval_s
    checks = tuner.explorations
    m.step_s = CONTENDED
    m.train(tuner, 0.5)  # far less than the interval: the slower steps start a check at once
    assert tuner.explorations == checks + 1
    assert tuner.choice == 1 and m.threads == 1


def test_competitor_leaving_is_noticed_within_the_longest_interval() -> None:
    m = Machine(CONTENDED)
    tuner = m.tuner()
    m.train(tuner, 40.0)
    assert tuner.choice == 1
    m.step_s = QUIET  # 1-thread steps do not change: only the periodic check can see it
    m.train(tuner, tuner.max_interval_s + 1.0)
    assert tuner.choice == 2 and m.threads == 2


def test_checks_back_off_while_the_choice_holds() -> None:
    m = Machine(QUIET)
    tuner = m.tuner()
    m.train(tuner, 100.0)
    assert tuner.interval_s == tuner.max_interval_s
    # 2, 4, 8, 16, 16, ...: about 9 checks in 100 s, not 50
    assert tuner.explorations <= 10


@pytest.mark.parametrize("machine", [QUIET, CONTENDED])
def test_tuning_costs_a_few_percent_of_the_best_fixed_count(machine: dict[int, float]) -> None:
    m = Machine(machine)
    tuner = m.tuner()
    steps = 0
    while m.spent < 60.0:
        s = m.step_s[m.threads]
        m.spent += s
        tuner.record(s)
        steps += 1
    best = steps * min(machine.values())
    assert m.spent / best <= 1.03


def test_slow_steps_make_the_checks_rarer() -> None:
    """A 0.5 s step: a check's windows are a few steps, and the time between checks grows
    to 20 times what a check cost beyond the choice's steps (1 s here): 5% at most."""
    m = Machine({1: 0.75, 2: 0.5})
    tuner = m.tuner()
    m.train(tuner, 6.0)
    assert tuner.choice == 2 and tuner.explorations == 1
    m.train(tuner, 19.0)
    assert tuner.explorations == 1  # max(interval 4 s, 20 x 1 s)
    steps = 0
    while m.spent < 300.0:
        m.spent += m.step_s[m.threads]
        tuner.record(m.step_s[m.threads])
        steps += 1
    assert tuner.explorations >= 10
    assert m.spent / (steps * 0.5 + 25.0) <= 1.06


def test_noisy_steps_do_not_keep_it_checking() -> None:
    m = Machine(QUIET)
    tuner = m.tuner()
    m.train(tuner, 5.0)
    checks = tuner.explorations
    for i in range(20_000):  # every other window twice as slow: drift, over and over
        s = QUIET[m.threads] * (2.0 if (i // 40) % 2 else 1.0)
        m.spent += s
        tuner.record(s)
    drift_checks = tuner.explorations - checks
    assert 0 < drift_checks
    window = 40 * QUIET[2]
    assert drift_checks <= (20_000 * 1.5 * QUIET[2]) / (tuner.drift_wait * 2 * window)


def test_many_cores_try_a_few_counts() -> None:
    assert threads.candidates(1) == [1]
    assert threads.candidates(2) == [1, 2]
    assert threads.candidates(4) == [1, 2, 3, 4]
    assert threads.candidates(64) == [1, 16, 32, 64]
    assert threads.worker_threads(4, cores=16) == 4
    assert threads.worker_threads(32, cores=16) == 1


def test_the_tuner_is_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """By default a run trains on a fixed count (reproducible); `--threads auto` opts in to the
    tuner, and a fixed count (the user's, OMP_NUM_THREADS, one core) turns it off again."""
    monkeypatch.setattr(threads, "DEFAULT_THREADS", 2)
    monkeypatch.setattr(threads, "_fixed", None)
    monkeypatch.setattr(threads, "_auto", False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert isinstance(threads.for_run(torch.device("cpu")), FixedThreads)  # the default
    try:
        threads.configure("auto")
        assert threads.tuned()
        assert isinstance(threads.for_run(torch.device("cpu")), ThreadTuner)
        assert isinstance(threads.for_run(torch.device("cuda")), FixedThreads)
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert threads.fixed_count() == 1
        assert isinstance(threads.for_run(torch.device("cpu")), FixedThreads)
        monkeypatch.delenv("OMP_NUM_THREADS")
        monkeypatch.setattr(threads, "DEFAULT_THREADS", 1)
        assert isinstance(threads.for_run(torch.device("cpu")), FixedThreads)  # one core: no choice
        monkeypatch.setattr(threads, "DEFAULT_THREADS", 2)
        threads.configure(3)
        assert not threads.tuned() and threads.fixed_count() == 3
        assert isinstance(threads.for_run(torch.device("cpu")), FixedThreads)
    finally:
        threads.fixed(1)


@pytest.mark.parametrize("text", ["0", "-1", "two", "2.5", "", "1025"])
def test_bad_threads_are_one_line_and_exit_2(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    from actlab.tui.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--batch", "-d", "sample", "--threads", text])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "--threads" in err and "allowed a whole number 1..1024 or 'auto'" in err


def test_epoch_finished_without_threads_still_reads() -> None:
    """Runs stored before the field existed have no `threads`."""
    old = {"type": "epoch_finished", "epoch": 1, "iteration": 10, "iterations": 10, "seconds": 0.5}
    old["eval_seconds"] = 0.1
    event = from_dict(old)
    assert isinstance(event, EpochFinished) and event.threads is None
    new = from_dict(EpochFinished(1, 10, 10, 0.5, 0.1, 2).to_dict())
    assert isinstance(new, EpochFinished) and new.threads == 2


def _run(config: RunConfig, sample: Dataset) -> tuple[list[list[float | None]], list[int | None]]:
    accuracies: list[list[float | None]] = []
    chosen: list[int | None] = []

    def listener(event: Event) -> None:
        if isinstance(event, Evaluation):
            accuracies.append(event.accuracy + event.train_loss + event.test_loss)
        elif isinstance(event, EpochFinished):
            chosen.append(event.threads)

    run(config, listener, data=sample)
    return accuracies, chosen


def test_a_run_under_the_tuner_reports_its_choice_and_keeps_its_numbers(
    tiny_config: RunConfig, sample: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose thread count switches between 1 and 2 every few steps reports each choice,
    and computes what the fixed run computes up to rounding: bit for bit on an AMD EPYC host,
    not on an Intel Xeon (1 and 2 threads split the reductions differently: test loss 0.383757
    vs 0.383756). That is why the tuner is opt-in and the default count is fixed."""
    config = tiny_config.replace(epochs=2, max_iterations=None, eval_every=20)
    fixed_run, fixed_threads = _run(config, sample)
    assert set(fixed_threads) == {None}

    made: list[ThreadTuner] = []
    clock_state = {"now": 0.0, "calls": 0}

    def clock() -> float:
        # made up: every 30 steps the other count becomes the faster one, so the tuner switches
        clock_state["calls"] += 1
        phase = (clock_state["calls"] // 60) % 2
        fast = (torch.get_num_threads() == 2) == (phase == 0)
        clock_state["now"] += 0.5e-3 if fast else 1e-3
        return clock_state["now"]

    def flip_flop(device: torch.device) -> ThreadTuner:
        made.append(ThreadTuner([1, 2], current=1, clock=clock, window_s=0.0, interval_s=0.01, cost_factor=1))
        return made[-1]

    monkeypatch.setattr(threads, "for_run", flip_flop)
    try:
        tuned_run, tuned_threads = _run(config, sample)
    finally:
        threads.fixed(1)
    assert made and made[0].switches >= 2
    assert all(t in (1, 2) for t in tuned_threads)
    flat_tuned = [x for row in tuned_run for x in row]
    flat_fixed = [x for row in fixed_run for x in row]
    assert flat_tuned == pytest.approx(flat_fixed, rel=1e-4, abs=1e-5)


def test_batch_progress_line_names_the_chosen_threads() -> None:
    import io

    from actlab.engine.events import RunStarted
    from actlab.tui.batch import ProgressDisplay

    out = io.StringIO()
    show = ProgressDisplay(out)
    dataset = {"name": "sample", "source": "bundled", "train_size": 40, "test_size": 10, "notice": None}
    show(RunStarted({"epochs": 3}, ["relu"], "relu", dataset, "cpu", 10, 0, 10, 30))
    show(EpochFinished(1, 10, 10, 0.5, 0.1))  # fixed threads: nothing said
    show(EpochFinished(2, 20, 10, 0.5, 0.1, 1))
    show(EpochFinished(3, 30, 10, 0.5, 0.1, 2))
    lines = out.getvalue().splitlines()
    assert "thread" not in lines[1]
    assert "  1 thread  " in lines[2] and "  2 threads  " in lines[3]
