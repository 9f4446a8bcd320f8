"""The diagnostics views: why one activation trains faster than another.

Integration in one call: `diagnostics_tabs()` gives (tab title, widget) pairs that share one
`DiagnosticsHistory`; mount each widget in a tab and call `feed_event(event)` on every one of
them for every engine event, live or replayed (feeding is idempotent per event, so a shared
history is not counted twice). Feeding marks a view stale: the lab screen's pacer paints it
(`widgets.pacing`); `redraw()` paints it at once (after a replay, in tests).

    from actlab.tui.widgets.diagnostics import MEMBER_COLORS, diagnostics_tabs

    with TabbedContent():
        ...
        for title, view in diagnostics_tabs():
            with TabPane(title):
                yield view
"""

from __future__ import annotations

from ..palette import MEMBER_COLORS, member_color
from .diagnostics_base import DiagnosticsView
from .diagnostics_clipping import ClippingView
from .diagnostics_functions import ActivationFunctionsView
from .diagnostics_gradients import GradientFlowView
from .diagnostics_history import DiagnosticsHistory, LayerHistory, MemberHistory
from .diagnostics_properties import PropertiesTable
from .diagnostics_saturation import SaturationView
from .diagnostics_theory import TheoryView

__all__ = [
    "MEMBER_COLORS",
    "ActivationFunctionsView",
    "ClippingView",
    "DiagnosticsHistory",
    "DiagnosticsView",
    "GradientFlowView",
    "LayerHistory",
    "MemberHistory",
    "PropertiesTable",
    "SaturationView",
    "TheoryView",
    "diagnostics_tabs",
    "member_color",
]


def diagnostics_tabs(history: DiagnosticsHistory | None = None) -> list[tuple[str, DiagnosticsView]]:
    """(tab title, view) for every diagnostics view, all sharing one history."""
    shared = history if history is not None else DiagnosticsHistory()
    return [
        ("Gradients", GradientFlowView(shared, id="diag-gradients")),
        ("Saturation", SaturationView(shared, id="diag-saturation")),
        ("Functions", ActivationFunctionsView(shared, id="diag-functions")),
        ("Clipping", ClippingView(shared, id="diag-clipping")),
        ("Properties", PropertiesTable(shared, id="diag-properties")),
        ("Theory", TheoryView(shared, id="diag-theory")),
    ]
