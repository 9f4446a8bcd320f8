"""`actlab-tui report DIR`: a saved run as a Markdown report with PNG figures.

report.md holds the settings, the accuracy curves with the thresholds, the threshold table,
and the gradient norm against depth from the run's diagnostics events, with the per-layer
table. The figures are drawn by matplotlib (Agg: no display), an optional extra.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from actlab.engine.events import Diagnostics, Evaluation, Event
from actlab.engine.report import diagnostics_table, markdown, setting_text, threshold_table
from actlab.engine.results import ResultsError, replay, write_file

INSTALL_HINT = "report needs matplotlib: pip install 'actlab[report]' (make install includes it)"
ACCURACY_PNG = "report-accuracy.png"
GRADIENTS_PNG = "report-gradients.png"


class ReportError(Exception):
    """The report cannot be made; the message is one line."""


def _pyplot() -> Any:
    try:
        import matplotlib
    except ModuleNotFoundError:
        raise ReportError(INSTALL_HINT) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_report(directory: str, out: str | None = None) -> Path:
    """Read the run in `directory`, write report.md and its figures into `out` (default: the
    run directory; made if missing), and return the report's path. Rewrites a report there."""
    iterations: list[int] = []
    accuracy: list[list[float | None]] = []
    diagnostics: list[Diagnostics] = []

    def listen(event: Event) -> None:
        if isinstance(event, Evaluation):
            iterations.append(event.iteration)
            accuracy.append(event.accuracy)
        elif isinstance(event, Diagnostics):
            diagnostics.append(event)

    summary = replay(directory, listen)  # a foreign or corrupt directory: ResultsError
    plt = _pyplot()
    target = Path(out) if out else Path(directory)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResultsError(f"{target}: cannot create it ({exc.strerror or exc})") from None
    members = [m["activation"] for m in summary["members"]]
    colours = [plt.get_cmap("tab10")(i % 10) for i in range(len(members))]

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for i, name in enumerate(members):
        pts = [(it, acc[i]) for it, acc in zip(iterations, accuracy) if acc[i] is not None]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=name, color=colours[i], linewidth=1.6)
    for t in summary["config"]["thresholds"]:
        ax.axhline(float(t), color="grey", linestyle="--", linewidth=0.8)
        ax.annotate(f"{float(t):g}", (0, float(t)), xycoords=("axes fraction", "data"), fontsize=8,
                    color="grey", xytext=(2, 2), textcoords="offset points")  # fmt: skip
    ax.set(xlabel="iteration", ylabel="test accuracy", ylim=(0, 1), title="Test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    _save(fig, target / ACCURACY_PNG, plt)

    have_gradients = bool(diagnostics)
    if have_gradients:
        fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
        first, last = diagnostics[0], diagnostics[-1]
        points = [(last, "-", "")]
        if first is not last:
            points.insert(0, (first, ":", f" (iteration {first.iteration})"))
        for i, name in enumerate(members):
            for event, style, tag in points:
                diag = event.members[i]
                if not diag:
                    continue
                norms = [layer["grad_norm"] for layer in diag["layers"]]
                layers = [k for k, v in enumerate(norms, 1) if v is not None and v > 0]
                ax.plot(layers, [norms[k - 1] for k in layers], style, marker="o", color=colours[i],
                        label=name + tag, linewidth=1.4 if style == "-" else 1.0)  # fmt: skip
        ax.set_yscale("log")
        ax.set(
            xlabel="hidden layer (input side first)",
            ylabel="gradient norm (probe batch)",
            title=f"Gradient norm against depth at iteration {last.iteration}",
        )
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
        _save(fig, target / GRADIENTS_PNG, plt)

    path = target / "report.md"
    write_file(path, report_markdown(directory, summary, have_gradients), replace=True)
    return path


def _save(fig: Any, path: Path, plt: Any) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    write_file(path, buf.getvalue(), replace=True)


def report_markdown(directory: str, summary: dict[str, Any], have_gradients: bool) -> str:
    """The report's text; the figures beside it are linked by name."""
    ds = summary.get("dataset") or {}
    config = summary["config"]
    members = ", ".join(m["activation"] for m in summary["members"])
    lines = [
        f"# actlab run {Path(directory).resolve().name}",
        "",
        f"{members} on {ds.get('name')} ({ds.get('train_size')} train / {ds.get('test_size')} test), "
        f"device {summary.get('device')}; status {summary['status']} after {summary['iterations']} "
        f"iterations ({summary['epochs_completed']} epoch{'' if summary['epochs_completed'] == 1 else 's'}).",
    ]
    if ds.get("notice"):
        lines += ["", f"Note: {ds['notice']}"]
    settings = [["setting", "value"]] + [[k, setting_text(v)] for k, v in config.items() if k != "cache_dir"]
    lines += [
        "",
        "## Accuracy",
        "",
        f"![Test accuracy of each member, thresholds dashed]({ACCURACY_PNG})",
        "",
        "## Iterations to reach each threshold",
        "",
        threshold_table(summary, "md"),
        "",
        "## Gradient norm against depth",
        "",
    ]
    if have_gradients:
        lines += [
            f"![Gradient norm per hidden layer]({GRADIENTS_PNG})",
            "",
            "At the last diagnostics point (solid) and the first (dotted), on the fixed probe batch.",
            "",
            diagnostics_table(summary, "md"),
        ]
    else:
        lines.append("No diagnostics were recorded in this run.")
    lines += ["", "## Settings", "", markdown(settings), ""]
    return "\n".join(lines)
