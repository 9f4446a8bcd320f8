"""`actlab-tui compare`'s chart: every member of every run on one plotext text chart.

The runs, the members table and the settings that differ are read and laid out by
`actlab.engine.experiments.compare`; this draws their accuracy curves for the terminal.
"""

from __future__ import annotations

import shutil

from actlab.engine.experiments.compare import SavedRun


def accuracy_chart(runs: list[SavedRun], width: int, height: int, colour: bool) -> str:
    """Every member of every run on one plotext chart (test accuracy over iterations), the
    thresholds of the first run as grey lines; at most `width` points per curve."""
    import plotext as plt

    plt.clear_figure()
    plt.theme("clear")
    for r in runs:
        for i, m in enumerate(r.summary.members):
            xs, ys = r.curve(i)
            step = max(1, -(-len(xs) // max(1, width)))  # decimate to the canvas's columns
            if xs:
                plt.plot(xs[::step], ys[::step], label=f"{r.label}: {m.activation}")
    for t in runs[0].config["thresholds"]:
        plt.horizontal_line(float(t), color="gray")
    plt.ylim(0, 1)
    plt.title("test accuracy")
    plt.xlabel("iteration")
    plt.plotsize(width, height)
    text: str = plt.build()
    plt.clear_figure()
    return text if colour else plt.uncolorize(text)


def chart_size() -> tuple[int, int]:
    cols, lines = shutil.get_terminal_size((100, 30))
    return max(40, min(cols, 160)), max(12, min(lines - 4, 30))
