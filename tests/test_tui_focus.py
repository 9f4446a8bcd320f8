"""Key presses stay cheap: the settings panel restyles only itself when focus leaves it, the
footer rebuilds only when the keys it shows change, a chart only when it has something new."""

from __future__ import annotations

import asyncio

from actlab.tui.app import create_app
from actlab.tui.screens.lab import LabScreen
from actlab.tui.widgets.charts import AccuracyChart
from actlab.tui.widgets.controls import ControlsPanel
from actlab.tui.widgets.footer import KeyFooter
from streams import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.css.model import CombinatorType
from textual.widgets import Button


def test_no_style_rule_selects_inside_the_settings_panel_by_its_focus() -> None:
    """ControlsPanel.watch_has_focus restyles the panel alone: right only while no rule styles
    something inside it by the panel's focus (as `Tabs:focus .-active` does for tabs)."""

    async def scenario() -> None:
        app = create_app(save_runs=False)
        async with app.run_test(size=(160, 48)) as pilot:
            while not isinstance(app.screen, LabScreen):
                await pilot.pause(0.01)
            panel = app.screen.query_one(ControlsPanel)
            offending = []
            for rule in app.stylesheet.rules:
                for selector_set in rule.selector_set:
                    selectors = selector_set.selectors
                    for selector, after in zip(selectors, selectors[1:], strict=False):
                        descendant = after.combinator != CombinatorType.SAME
                        focus = selector.pseudo_classes & {"focus", "focus-within", "blur"}
                        if descendant and focus and selector._check(panel):
                            offending.append(selector_set.css)
            assert offending == []

    asyncio.run(scenario())


class TwoFields(App[None]):
    BINDINGS = [Binding("ctrl+e", "extra", "Extra")]

    def __init__(self) -> None:
        super().__init__()
        self.footer = KeyFooter()
        self.recomposed = 0
        self.extra_shown = True

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Button("one", id="one")
            yield Button("two", id="two")
        yield self.footer

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return False if action == "extra" and not self.extra_shown else True


def test_the_footer_rebuilds_only_when_its_keys_change() -> None:
    async def scenario() -> None:
        app = TwoFields()
        async with app.run_test(size=(80, 10)) as pilot:
            real = app.footer.recompose

            async def counted() -> None:
                app.recomposed += 1
                await real()

            app.footer.recompose = counted  # type: ignore[method-assign]
            await pilot.pause()
            app.query_one("#one").focus()
            await pilot.pause()
            app.query_one("#two").focus()
            await pilot.pause()
            assert app.recomposed == 0  # the same keys on show: nothing to rebuild
            assert app.footer.query("FooterKey")  # and they are there
            app.extra_shown = False
            app.refresh_bindings()
            await pilot.pause()
            assert app.recomposed == 1
            assert not any(k.action == "extra" for k in app.footer.query("FooterKey"))  # type: ignore[attr-defined]

    asyncio.run(scenario())


class OneChart(App[None]):
    def compose(self) -> ComposeResult:
        yield AccuracyChart(id="chart")


def test_a_chart_rebuilds_its_canvas_only_for_new_data() -> None:
    """Repainted, resized to the same size or shown again with nothing new, a live chart
    serves the canvas it built; a new event or another size builds it again."""

    async def scenario() -> None:
        app = OneChart()
        async with app.run_test(size=(100, 30)) as pilot:
            chart = app.query_one(AccuracyChart)
            builds: list[int] = []
            real = chart.plt.build

            def counted() -> str:
                builds.append(1)
                return real()

            chart.plt.build = counted  # type: ignore[method-assign]
            stream = events()
            for event in stream[:-1]:
                chart.feed_event(event)
            chart.paint_now()
            await pilot.pause()
            assert len(builds) == 1
            chart.paint_now()  # nothing new
            await pilot.pause()
            assert len(builds) == 1
            chart.feed_event(stream[-1])
            chart.paint_now()
            await pilot.pause()
            assert len(builds) == 2
            await pilot.resize_terminal(90, 30)
            await pilot.pause()
            assert len(builds) == 3

    asyncio.run(scenario())
