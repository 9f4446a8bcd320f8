"""One diagnostics view (or all of them as tabs) showing a recorded run from tests/fixtures.

The snapshot tests build `DiagViewApp` directly; to look at a view by eye:

    python tests/snapshot_apps/diag_views.py gradients            # the clipped 6-layer run
    python tests/snapshot_apps/diag_views.py saturation diag_noclip
    python tests/snapshot_apps/diag_views.py tabs
"""

from __future__ import annotations

import sys
from pathlib import Path

from actlab.engine.experiments.results import read_events
from actlab.tui.widgets.diagnostics import (
    ActivationFunctionsView,
    ClippingView,
    GradientFlowView,
    PropertiesTable,
    SaturationView,
    TheoryView,
    diagnostics_tabs,
)
from textual.app import App, ComposeResult
from textual.widget import Widget
from textual.widgets import TabbedContent, TabPane

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

VIEWS: dict[str, type[Widget]] = {
    "gradients": GradientFlowView,
    "saturation": SaturationView,
    "functions": ActivationFunctionsView,
    "properties": PropertiesTable,
    "clipping": ClippingView,
    "theory": TheoryView,
}


class DiagViewApp(App[None]):
    """Replays a fixture run into one view, or into every tab of `diagnostics_tabs()`."""

    def __init__(self, view: str = "gradients", fixture: str = "diag_clip") -> None:
        super().__init__()
        self.view_name = view
        self.fixture = FIXTURES / fixture
        self.views: list[Widget] = []

    def compose(self) -> ComposeResult:
        if self.view_name == "tabs":
            with TabbedContent():
                for title, widget in diagnostics_tabs():
                    self.views.append(widget)
                    with TabPane(title):
                        yield widget
        else:
            widget = VIEWS[self.view_name]()
            self.views.append(widget)
            yield widget

    def on_mount(self) -> None:
        # the whole stream at once, as `--open DIR` does; then draw without waiting for the throttle
        for event in read_events(self.fixture):
            for view in self.views:
                view.feed_event(event)  # type: ignore[attr-defined]
        for view in self.views:
            view.redraw()  # type: ignore[attr-defined]


if __name__ == "__main__":
    DiagViewApp(*sys.argv[1:3]).run()
