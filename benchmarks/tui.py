"""Training in the app with its charts live vs the same run headless; key presses, idle and
while training.

The same comparison (the default members sigmoid, tanh and relu, depth 2, width 128, the
bundled sample, evaluation and diagnostics at their default cadence) is run whole, in turn:

* headless: `actlab.engine.run` in this process, at the benchmark's torch thread count;
* in the app: `create_app(threads=N).run_test(size=(160, 48))`, started with ctrl+s, the
  Accuracy tab showing, the charts, table and status line live, training in the app's engine
  process on the same thread count N. Every frame the compositor builds is also encoded to its
  terminal escape sequence, as the real driver does before writing it (the headless driver
  skips that step); nothing is saved to disk on either side.

Throughput is iterations / elapsed seconds as the engine's own RunFinished reports them, the
same definition on both sides (evaluation and diagnostics included, data loading not). The
app's side reads it from what its engine process sends up (the host's `post`, wrapped here).

The CPU time of the UI thread, of the UI process as a whole (its event loop and the host's
reader thread, which unpickles what the engine sends) and of the engine process (from /proc)
over the run is reported with each app turn: on a 2-core machine every percent the UI takes
costs the engine's two spinning threads about as much throughput.

Key presses have their own app runs (opening help is real work for the UI, so they would
spoil the throughput turns). Each opens a fresh app and presses keys with nothing training,
the first right after the lab's first frame (the settings form on screen, the engine process
still importing PyTorch beside it), as a user who knows the keys would; then as many while
training (the run is then stopped). Keys are sent the way a terminal's driver sends them (the
event `Pilot.press` posts, without its wait for the process to go idle, which never comes
while training): right (to Loss), left (back to Accuracy), ? (help) and escape (close it), a
few a second, with the tab bar given focus just before the first (as a click on a tab would:
that first press pays for focus leaving the form). Latency is from sending the key to the first frame
composed after the action's handler ran with its effect in place; the time to the handler
alone is reported too. Handlers are timed by wrappers installed here, not in the app.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from actlab.engine import RunConfig
from actlab.engine import run as engine_run
from actlab.engine.data import Dataset, load
from actlab.engine.events import Event, RunFinished
from actlab.engine.threads import fixed as fix_threads

from .common import Figure, Options, Result, interleave, median

NAME = "tui"
TITLE = "Training in the app (charts live, keys pressed) vs the same run headless"

SIZE = (160, 48)
KEY_GAP_S = 0.2  # between the effect of one key press and the next press
KEY_TIMEOUT_S = 5.0  # a press whose effect never shows counts as this long
LATENCY_TARGET_MS = 100.0
KEY_NAMES = {"right": "tab right", "left": "tab left", "question_mark": "help ?", "escape": "close esc"}
DEADLINE_S = 120.0  # for any one wait on the app (or on progress): a hang fails the benchmark


@dataclass
class Turn:
    """One whole run: its throughput, the torch threads it trained on, and key latencies."""

    iterations: int = 0
    elapsed_s: float = 0.0
    threads: int = 0
    ui_cpu_s: float = 0.0  # CPU time of the UI thread from the first step to the end
    app_cpu_s: float = 0.0  # CPU time of the app's whole (UI) process over the same span
    engine_cpu_s: float = 0.0  # CPU time of the engine process over the same span
    handler_ms: list[float] = field(default_factory=list)
    visible_ms: list[float] = field(default_factory=list)
    by_key: dict[str, list[float]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.iterations / self.elapsed_s


def finished(turn: Turn) -> Callable[[Event], None]:
    """A listener that keeps what RunFinished reports (the engine's own count and clock)."""

    def listen(event: Event) -> None:
        if isinstance(event, RunFinished):
            turn.iterations, turn.elapsed_s = event.iteration, event.elapsed_s

    return listen


# ------------------------------------------------------------------------------ headless


def headless(config: RunConfig, data: Dataset, threads: int, turns: list[Turn]) -> float:
    fix_threads(threads)  # as the app's engine process is given them
    turn = Turn(threads=torch.get_num_threads())
    engine_run(config, finished(turn), data=data)
    turns.append(turn)
    return turn.rate


# ------------------------------------------------------------------------------ in the app


def process_cpu_s(pid: int | None) -> float | None:
    """CPU seconds (user + system) a process has used so far, from /proc; None elsewhere."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def record_finished(lab: Any, turn: Turn) -> None:
    """Keep the RunFinished the engine process sends up, on the host's reader thread, before
    the screen gets it (the host posts to `screen._from_host`; the wrapper passes all on)."""
    from actlab.engine.experiments.engine_messages import RunEvents

    record = finished(turn)
    post = lab.host.post

    def recording_post(message: Any) -> Any:
        if isinstance(message, RunEvents):
            for event in message.events:
                record(event)
        return post(message)

    lab.host.post = recording_post
    turn.threads = lab.host.threads


class KeyProbe:
    """Sends keys as the terminal driver would and times each to its handler and its frame."""

    def __init__(self, app: Any, lab: Any) -> None:
        from actlab.tui.screens.help import HelpScreen
        from textual.widgets import TabbedContent, Tabs

        self.app, self.lab = app, lab
        self.tabbed = lab.query_one("#views", TabbedContent)
        self.tabs = self.tabbed.query_one(Tabs)
        self.help_cls = HelpScreen
        self.sent = 0.0
        self.handled: float | None = None
        self.effect: Callable[[], bool] | None = None
        self.shown = asyncio.Event()
        self.frames = 0  # frames composed since the probe was installed
        self._restore: list[Callable[[], None]] = []

    # --- instrumentation (instance attributes, and one class attribute put back on exit) -----

    def install(self) -> None:
        for obj, name in (
            (self.tabs, "action_next_tab"),
            (self.tabs, "action_previous_tab"),
            (self.lab, "action_help"),
            (self.app, "_display"),
        ):
            setattr(obj, name, self._wrap(getattr(obj, name), display=name == "_display"))
            self._restore.append(partial(delattr, obj, name))
        real_dismiss = self.help_cls.action_dismiss

        async def dismiss(screen: Any, result: Any = None) -> None:
            self._handler_ran()
            await real_dismiss(screen, result)

        self.help_cls.action_dismiss = dismiss  # type: ignore[method-assign,assignment]
        self._restore.append(partial(setattr, self.help_cls, "action_dismiss", real_dismiss))

    def uninstall(self) -> None:
        for undo in reversed(self._restore):
            undo()
        self._restore = []

    def _handler_ran(self) -> None:
        if self.effect is not None and self.handled is None:
            self.handled = time.perf_counter()

    def _wrap(self, method: Callable[..., Any], display: bool) -> Callable[..., Any]:
        from textual._compositor import CompositorUpdate

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not display:
                self._handler_ran()
                return method(*args, **kwargs)
            out = method(*args, **kwargs)
            renderable = args[1] if len(args) > 1 else kwargs.get("renderable")
            if isinstance(renderable, CompositorUpdate):
                # what the real driver does with each frame before writing it out
                renderable.render_segments(self.app.console)
            self.frames += 1
            if self.effect is not None and self.handled is not None and self.effect():
                self.effect = None
                self.shown.set()
            return out

        return wrapped

    # --- pressing ---------------------------------------------------------------------------

    async def press(self, key: str, char: str | None, effect: Callable[[], bool], turn: Turn) -> None:
        self.handled, self.effect = None, effect
        self.shown.clear()
        self.sent = time.perf_counter()
        send_key(self.app, key, char)
        try:
            await asyncio.wait_for(self.shown.wait(), KEY_TIMEOUT_S)
            visible = time.perf_counter() - self.sent
        except TimeoutError:
            self.effect = None
            visible = KEY_TIMEOUT_S
        handler = (self.handled - self.sent) if self.handled is not None else visible
        turn.handler_ms.append(handler * 1e3)
        turn.visible_ms.append(visible * 1e3)
        turn.by_key.setdefault(key, []).append(visible * 1e3)

    async def keep_pressing(self, presses: int, turn: Turn) -> None:
        tab = self.tabbed
        cycle: list[tuple[str, str | None, Callable[[], bool]]] = [
            ("right", None, lambda: tab.active == "tab-loss"),
            ("left", None, lambda: tab.active == "tab-accuracy"),
            ("question_mark", "?", lambda: isinstance(self.app.screen, self.help_cls)),
            ("escape", "\x1b", lambda: self.app.screen is self.lab),
        ]
        self.tabs.focus()
        for n in range(presses):
            key, char, effect = cycle[n % len(cycle)]
            await self.press(key, char, effect, turn)
            await asyncio.sleep(KEY_GAP_S)  # pacing, as a person presses; not a sync point
        if self.app.screen is not self.lab:  # leave the help closed
            await self.press("escape", "\x1b", lambda: self.app.screen is self.lab, Turn())


async def until(
    condition: Callable[[], bool],
    what: str,
    app: Any,
    poll: float = 0.01,
    progress: Callable[[], object] | None = None,
) -> None:
    """Yield to the app until `condition` holds; fail loudly if the app died or it never does.
    With `progress`, the deadline counts from the last time its value changed: a run on a
    busy machine is slow, not hung."""
    deadline = time.monotonic() + DEADLINE_S
    seen = progress() if progress is not None else None
    while not condition():
        if app._exception is not None:
            raise RuntimeError(f"the app failed while waiting for {what}") from app._exception
        if progress is not None and progress() != seen:
            seen, deadline = progress(), time.monotonic() + DEADLINE_S
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(poll)  # the condition is the sync point; this only yields


def send_key(app: Any, key: str, char: str | None = None) -> None:
    """A key event posted the way the terminal driver posts it (no wait for idleness)."""
    from textual import events

    event = events.Key(key, char)
    event.set_sender(app)
    app._driver.send_message(event)


def in_app(
    config: RunConfig,
    threads: int,
    presses: int,
    turns: list[Turn],
    idle: Turn | None = None,
) -> float:
    """One run in the app. presses == 0: a whole run, nothing pressed (a throughput turn).
    presses > 0: `presses` keys while training, then stop (a latency turn); with `idle`, as
    many keys before the run starts, the first right after the lab's first frame, timed into
    `idle` (the same keys with nothing training)."""
    from actlab.tui.app import create_app
    from actlab.tui.screens.lab import LabScreen
    from actlab.tui.state import Phase

    turn = Turn()

    async def scenario() -> None:
        app = create_app(config=config, save_runs=False, threads=threads)
        async with app.run_test(size=SIZE):
            await until(lambda: isinstance(app.screen, LabScreen), "the lab screen", app)
            lab = app.screen
            assert isinstance(lab, LabScreen)
            record_finished(lab, turn)
            probe = KeyProbe(app, lab)
            probe.install()
            try:
                await until(lambda: probe.frames > 0, "the lab's first frame", app, poll=0.001)
                if idle is not None and presses:
                    await probe.keep_pressing(presses, idle)
                send_key(app, "ctrl+s")
                await until(lambda: lab.phase not in (Phase.IDLE, Phase.LOADING), "training", app)
                cpu = time.thread_time()  # this is the UI thread: the app's event loop
                process_cpu = time.process_time()  # the UI process: its loop and the host's reader
                engine_cpu = process_cpu_s(lab.host.pid)
                if presses:
                    await probe.keep_pressing(presses, turn)
                    lab.action_stop()
                ended, iteration = (lambda: not lab.phase.active), (lambda: lab.status.iteration)
                await until(ended, "the end of the run", app, poll=0.05, progress=iteration)
                turn.ui_cpu_s = time.thread_time() - cpu
                turn.app_cpu_s = time.process_time() - process_cpu
                engine_after = process_cpu_s(lab.host.pid)
                if engine_cpu is not None and engine_after is not None:
                    turn.engine_cpu_s = engine_after - engine_cpu
            finally:
                probe.uninstall()
            wanted = Phase.STOPPED if presses else Phase.DONE
            if lab.phase != wanted:
                raise RuntimeError(f"the run in the app ended as {lab.phase}: {lab.status.error}")

    asyncio.run(scenario())
    turns.append(turn)
    return turn.rate


# ------------------------------------------------------------------------------ the benchmark


def run(opts: Options) -> Result:
    res = Result(NAME, TITLE)
    base_threads = torch.get_num_threads()
    # 3,720 iterations (60 epochs of the sample): ~6 s a run on this 2-core machine, so the
    # app's one-off work at a run's start and end (hiding the form, building the table) weighs
    # in about as it would in a run worth watching
    epochs = 20 if opts.quick else 60
    presses = 8 if opts.quick else 16
    config = RunConfig(epochs=epochs, device=str(opts.device))
    long_config = config.replace(epochs=1000)  # stopped after the key presses
    data = load(config, opts.device)
    turns: dict[str, list[Turn]] = {}

    def contender(name: str, fn: Callable[..., float], *args: Any) -> Callable[[], float]:
        turns[name] = []
        return partial(fn, *args, turns[name])

    contenders = {
        "headless": contender("headless", headless, config, data, base_threads),
        "app": contender("app", in_app, config, base_threads, 0),
    }
    keys: dict[str, list[Turn]] = {"idle": [], "app": []}
    previous = fix_threads(base_threads)  # both sides on the same fixed count, as before
    try:
        # untimed warm-up: imports, the app's CSS, torch's kernels, the OS file cache
        warm = config.replace(epochs=1)
        headless(warm, data, base_threads, [])
        in_app(warm, base_threads, 0, [])
        interleave(contenders, opts.repeats(3, 1), warmup=0)
        # key latency: runs of their own (opening help is work for the UI; see the note), each
        # in a freshly opened app, so that each has a first press
        for _ in range(opts.repeats(2, 1)):
            idle = Turn()
            in_app(long_config, base_threads, presses, keys["app"], idle=idle)
            keys["idle"].append(idle)
    finally:
        fix_threads(previous)
    return report(res, config, turns, keys)


def report(
    res: Result, config: RunConfig, turns: dict[str, list[Turn]], keys: dict[str, list[Turn]]
) -> Result:
    rate = {k: median([t.rate for t in v]) for k, v in turns.items()}
    best = {k: max(t.rate for t in v) for k, v in turns.items()}
    threads = {k: sorted({t.threads for t in v}) for k, v in {**turns, **keys}.items() if k != "idle"}

    def th(name: str) -> str:
        return "/".join(map(str, threads[name]))

    def share(ts: list[Turn], attr: str) -> list[float]:
        return [getattr(t, attr) / t.elapsed_s for t in ts]

    n_it = turns["headless"][0].iterations
    res.lines.append(
        f"{len(config.activations)} members ({', '.join(config.activations)}), depth {config.depth}, "
        f"width {config.width}, sample data, {n_it} iterations a run, {len(turns['headless'])} turn(s) "
        f"each, app at {SIZE[0]}x{SIZE[1]} with the Accuracy tab showing"
    )
    for name, ts in turns.items():
        line = (
            f"{name:<9} {th(name):>3} torch thread(s): {rate[name]:5.0f} it/s median "
            f"[{min(t.rate for t in ts):.0f}-{best[name]:.0f}]"
        )
        if name == "app":
            ui, whole = median(share(ts, "ui_cpu_s")), median(share(ts, "app_cpu_s"))
            engine = median(share(ts, "engine_cpu_s"))
            line += (
                f"; CPU busy over the run: UI thread {ui:.1%}, UI process {whole:.1%}, "
                f"engine process {engine:.0%}"
            )
        res.lines.append(line)
    res.figures.append(
        Figure(
            "app / headless throughput, each as shipped",
            rate["app"] / rate["headless"],
            "",
            0.9,
            True,
            "issue 3",
            note=f"app's engine process on {th('app')} torch thread(s), headless on {th('headless')}",
        )
    )
    res.figures.append(Figure("the same, best turns", best["app"] / best["headless"], ""))
    res.figures.append(
        Figure("app: UI process CPU over the run", 100 * median(share(turns["app"], "app_cpu_s")), "%")
    )
    for name, ts in keys.items():
        vis = [v for t in ts for v in t.visible_ms]
        hand = [v for t in ts for v in t.handler_ms]
        if not vis:
            continue
        by_key: dict[str, list[float]] = {}
        for t in ts:
            for k, v in t.by_key.items():
                by_key.setdefault(k, []).extend(v)
        label = {"idle": "nothing training", "app": f"training on {th('app')} thread(s)"}[name]
        source = "issue 3" if name == "app" else "issue 12"
        res.figures.append(
            Figure(f"key to frame, max ({label})", max(vis), "ms", LATENCY_TARGET_MS, False, source)
        )
        res.figures.append(Figure(f"key to frame, median ({label})", median(vis), "ms"))
        if name == "idle":
            firsts = [t.visible_ms[0] for t in ts]
            res.figures.append(
                Figure(
                    "first key after the app opens (tab right), max",
                    max(firsts),
                    "ms",
                    LATENCY_TARGET_MS,
                    False,
                    "issue 12",
                    note="the form on screen; each: " + ", ".join(f"{v:.0f}" for v in firsts) + " ms",
                )
            )
        per_key = ", ".join(f"{KEY_NAMES.get(k, k)} {median(v):.0f}/{max(v):.0f}" for k, v in by_key.items())
        during = ""
        if name != "idle":
            during = f"; training ran at {median([t.rate for t in ts]):.0f} it/s meanwhile"
        res.lines.append(
            f"keys, {label} ({len(vis)} presses in {len(ts)} app(s)): to the handler median "
            f"{median(hand):.0f} ms, max {max(hand):.0f} ms; to the frame showing it median/max by key "
            f"(ms): {per_key}{during}"
        )
    res.details = {
        "iterations": n_it,
        "size": SIZE,
        "threads": threads,
        "rates": {k: [t.rate for t in v] for k, v in turns.items()},
        "ui_thread_cpu_share": share(turns["app"], "ui_cpu_s"),
        "ui_process_cpu_share": share(turns["app"], "app_cpu_s"),
        "engine_process_cpu_share": share(turns["app"], "engine_cpu_s"),
        "key_frame_ms": {k: [t.by_key for t in v] for k, v in keys.items()},
        "key_first_ms": [t.visible_ms[0] for t in keys["idle"] if t.visible_ms],
        "key_handler_ms": {k: [x for t in v for x in t.handler_ms] for k, v in keys.items()},
    }
    return res
