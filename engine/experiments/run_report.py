"""`actlab-tui report DIR`: a saved run, sweep or seeds directory as a Markdown report with
PNG figures.

For a run, report.md holds the settings, the accuracy curves with the thresholds, the
threshold table, and the gradient norm against depth from the run's diagnostics events, with
the per-layer table. For a sweep: which activation wins where (a heatmap figure and its
table), the accuracy at each point (one panel per point: each activation's mean over the
seeds), the table per point, the best-lr view and the paired statements. For a `--seeds`
directory or one point of a sweep: the mean accuracy curves and the aggregate over the seeds
with its paired statements. The figures are drawn by matplotlib (Agg: no display), an
optional extra. A report writes only report.md and its report-*.png figures (rewriting
them); nothing else in the directory is touched.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from actlab.engine.events import Diagnostics, Evaluation, Event, SettingValue
from actlab.engine.results_model import Aggregate, Summary, SweepResults

from .compare import SavedRun, band, config_of, load_run
from .opened import Collection, OpenedRun, OpenedSeeds, OpenedSweep, open_results, runs_of
from .report import diagnostics_table, fixed_text, markdown, setting_text, threshold_table
from .report_sweeps import aggregate_sections, sweep_sections
from .store import ResultsError, write_file
from .trainability import TRAINABLE, TrainMap, map_caption, map_rows, trainability_maps

INSTALL_HINT = "report needs matplotlib: pip install 'actlab[report]' (make install includes it)"
ACCURACY_PNG = "report-accuracy.png"
LOSS_PNG = "report-loss.png"
GRADIENTS_PNG = "report-gradients.png"
HEATMAP_PNG = "report-heatmap.png"
TRAINABILITY_PNG = "report-trainability.png"


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
    """Read the run (or sweep, seeds or point directory) in `directory`, write report.md and
    its figures into `out` (default: `directory`; made if missing), and return the report's
    path. Rewrites a report there."""
    opened = open_results(directory)  # a foreign directory: ResultsError; a damaged sweep.json: SweepError
    if not isinstance(opened, OpenedRun):
        return write_collection_report(opened, out)
    iterations: list[int] = []
    accuracy: list[list[float | None]] = []
    diagnostics: list[Diagnostics] = []

    def listen(event: Event) -> None:
        if isinstance(event, Evaluation):
            iterations.append(event.iteration)
            accuracy.append(event.accuracy)
        elif isinstance(event, Diagnostics):
            diagnostics.append(event)

    summary = opened.replay(listen)  # a corrupt stream: ResultsError
    plt = _pyplot()
    target = _target(directory, out)
    members = [m.activation for m in summary.members]
    colours = [plt.get_cmap("tab10")(i % 10) for i in range(len(members))]

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for i, name in enumerate(members):
        pts = [(it, acc[i]) for it, acc in zip(iterations, accuracy) if acc[i] is not None]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=name, color=colours[i], linewidth=1.6)
    for t in config_of(summary, directory)["thresholds"]:
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


def _target(directory: str, out: str | None) -> Path:
    target = Path(out) if out else Path(directory)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResultsError(f"{target}: cannot create it ({exc.strerror or exc})") from None
    return target


def _save(fig: Any, path: Path, plt: Any) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    write_file(path, buf.getvalue(), replace=True)


def report_markdown(directory: str, summary: Summary, have_gradients: bool) -> str:
    """The report's text; the figures beside it are linked by name."""
    config = config_of(summary, directory)
    epochs = summary.epochs_completed
    lines = [
        f"# actlab run {Path(directory).resolve().name}",
        "",
        f"{_data_line(summary)}; status {summary.status} after {summary.iterations} "
        f"iterations ({epochs} epoch{'' if epochs == 1 else 's'}).",
    ]
    if summary.dataset is not None and summary.dataset["notice"]:
        lines += ["", f"Note: {summary.dataset['notice']}"]
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


# ------------------------------------------------------------------------------ sweeps and seeds


def write_collection_report(collection: Collection, out: str | None) -> Path:
    """A sweep, seeds or point directory's report (see the module's docstring)."""
    runs = {d: load_run(d, label) for d, label in runs_of(collection)}  # every line checked
    root = Path(collection.directory)
    results: SweepResults | None = None
    aggregate: Aggregate | None = None
    if isinstance(collection, OpenedSweep):
        results = collection.results  # the stored summaries, checked
        plan = collection.plan
        points = {
            p.name: [runs[d] for s in plan.seeds if (d := str(root / p.run_dir(s))) in runs]
            for p in plan.points
        }
        seeds = len(plan.seeds)
    else:
        aggregate = collection.finished_aggregate()
        points = {"": list(runs.values())}
        seeds = len(collection.seeds)
    plt = _pyplot()
    target = _target(collection.directory, out)
    first = next(iter(runs.values())).summary
    members = [m.activation for m in first.members]
    thresholds = [float(t) for t in config_of(first, collection.directory)["thresholds"]]
    if isinstance(collection, OpenedSweep) and results is not None:
        maps = trainability_maps(results, collection.plan.base)
        if maps:
            _trainability_figure(maps, target / TRAINABILITY_PNG, plt)
    if results is not None and results.heatmap is not None:
        _heatmap_figure(results, target / HEATMAP_PNG, plt)
        grid = [[c.point for c in r.cells] for r in results.heatmap.rows]
    else:
        grid = [list(points)]
    _points_figure(points, grid, members, thresholds, seeds, target / ACCURACY_PNG, plt)
    _points_figure(points, grid, members, [], seeds, target / LOSS_PNG, plt, measure="loss")
    path = target / "report.md"
    text = (
        sweep_markdown(collection, first)
        if isinstance(collection, OpenedSweep)
        else seeds_markdown(collection, aggregate, first)
    )
    write_file(path, text, replace=True)
    return path


def _points_figure(
    points: dict[str, list[SavedRun]],
    grid: list[list[str]],
    members: list[str],
    thresholds: list[float],
    seeds: int,
    path: Path,
    plt: Any,
    measure: str = "accuracy",
) -> None:
    """One panel per point, laid out as the heatmap's grid: each activation's mean accuracy
    over the seeds (or the geometric mean of its training loss, on a log scale: `measure`
    "loss"), shaded from the lowest seed to the highest, thresholds dashed."""
    n_rows, n_cols = len(grid), max(len(r) for r in grid)
    single = n_rows == n_cols == 1
    width, height = (8.0, 4.8) if single else (0.6 + 3.4 * n_cols, 0.9 + 2.6 * n_rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(width, height), dpi=110 if single else 100,
                             sharey=True, squeeze=False)  # fmt: skip
    colours = [plt.get_cmap("tab10")(i % 10) for i in range(len(members))]
    for r, row in enumerate(grid):
        for c in range(n_cols):
            ax = axes[r][c]
            if c >= len(row):
                ax.set_visible(False)
                continue
            name, runs = row[c], points[row[c]]
            for t in thresholds:
                ax.axhline(t, color="grey", linestyle="--", linewidth=0.7)
            for i in range(len(members)):
                b = band(runs, i, measure) if runs else None
                if b is None:
                    continue
                if len(runs) > 1:
                    ax.fill_between(b.iterations, b.low, b.high, color=colours[i], alpha=0.18, linewidth=0)
                ax.plot(b.iterations, b.mean, color=colours[i], linewidth=1.4)
            title = name.replace(",", ", ") if name else f"mean over {len(runs)} seeds"
            if not runs:
                ax.text(
                    0.5, 0.5, "not run yet", ha="center", va="center", transform=ax.transAxes, color="grey"
                )
            elif len(runs) < seeds:
                title += f" ({len(runs)} of {seeds} seeds)"
            ax.set_title(title, fontsize=9)
            if measure == "loss":
                ax.set_yscale("log")
            else:
                ax.set_ylim(0, 1)
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=8)
            if r == n_rows - 1:
                ax.set_xlabel("iteration", fontsize=8)
            if c == 0:
                ax.set_ylabel("training loss" if measure == "loss" else "test accuracy", fontsize=8)
    handles = [plt.Line2D([], [], color=colours[i], linewidth=2) for i in range(len(members))]
    fig.legend(handles, members, loc="upper center", ncol=len(members), frameon=False, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / height))
    _save(fig, path, plt)


def _heatmap_figure(results: SweepResults, path: Path, plt: Any) -> None:
    """Iterations to the heatmap's threshold over the grid (fewer: darker), each cell with
    its winner and iterations and the runner-up; unfinished points hatched, points where no
    activation reached it in every seed blank."""
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle

    h = results.heatmap
    if h is None:
        return  # a sweep without axes: no grid to draw
    rows, columns = h.rows, h.columns
    found = [c.iterations for r in rows for c in r.cells if c.iterations is not None]
    cmap = plt.get_cmap("viridis")
    low, high = (min(found), max(found)) if found else (0.0, 1.0)
    norm = Normalize(low - 1 if low == high else low, high + 1 if low == high else high)
    fig, ax = plt.subplots(figsize=(1.6 + 2.1 * len(columns), 1.3 + 1.1 * len(rows)), dpi=110)
    for y, r in enumerate(rows):
        for x, c in enumerate(r.cells):
            if c.state == "unfinished":
                ax.add_patch(Rectangle((x, y), 1, 1, facecolor="#eeeeee", hatch="//", edgecolor="#bbbbbb"))
                ax.text(x + 0.5, y + 0.5, "unfinished", ha="center", va="center", fontsize=9, color="#555555")
                continue
            if c.winner is None or c.iterations is None:
                ax.add_patch(Rectangle((x, y), 1, 1, facecolor="white", edgecolor="#bbbbbb"))
                ax.text(
                    x + 0.5, y + 0.5, "none reached it", ha="center", va="center", fontsize=8, color="#777777"
                )
                continue
            colour = cmap(norm(c.iterations))
            ax.add_patch(Rectangle((x, y), 1, 1, facecolor=colour, edgecolor="white"))
            ink = "black" if 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2] > 0.55 else "white"
            ax.text(x + 0.5, y + 0.45, f"{c.winner}\n{c.iterations:.0f}", ha="center", va="center",
                    fontsize=11, color=ink, fontweight="bold")  # fmt: skip
            if c.runner_up:
                ax.text(x + 0.5, y + 0.82, f"next: {c.runner_up} {fixed_text(c.runner_up_iterations, 0)}",
                        ha="center", va="center", fontsize=7, color=ink)  # fmt: skip
    ax.set_xlim(0, len(columns))
    ax.set_ylim(len(rows), 0)
    ax.set_xticks([x + 0.5 for x in range(len(columns))])
    ax.set_xticklabels([f"{h.column_axis}={setting_text(v)}" for v in columns])
    ax.set_yticks([y + 0.5 for y in range(len(rows))])
    ax.set_yticklabels([",".join(f"{n}={setting_text(v)}" for n, v in r.values.items()) for r in rows])
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    seeds = len(results.seeds)
    over = f"mean over {seeds} seeds" if seeds > 1 else "one seed"
    if h.threshold is None:
        ax.set_title("Which activation wins where: none reached a threshold in every seed", fontsize=10)
    else:
        ax.set_title(
            f"Which activation wins where: fewest iterations to {h.threshold:g} test accuracy\n"
            f"(sustained, {over}; in a cell: the winner and its iterations)",
            fontsize=10,
        )
    if found and h.threshold is not None:
        bar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, fraction=0.05, pad=0.03)
        bar.set_label(f"iterations to {h.threshold:g}", fontsize=9)
    _save(fig, path, plt)


def _trainability_figure(maps: list[TrainMap], path: Path, plt: Any) -> None:
    """Per activation: the final accuracy over depth x sigma_w^2 (a cell per point, bright where
    it trained), with the depth mean-field theory expects to train, 6 xi_c, over it, and the
    multiple that fits this map best, dashed."""
    import numpy as np
    from matplotlib.colors import Normalize

    fig, axes = plt.subplots(1, len(maps), figsize=(0.8 + 4.6 * len(maps), 4.4), dpi=110, squeeze=False)
    norm = Normalize(0.0, 1.0)
    for ax, m in zip(axes[0], maps):
        ws, ds = m.sigma_w2s, m.depths
        grid = np.array([[np.nan if (a := m.accuracy.get((d, w))) is None else a for w in ws] for d in ds])
        xs, ys = _edges(ws), _edges([float(d) for d in ds])
        image = ax.pcolormesh(xs, ys, grid, cmap="viridis", norm=norm, shading="flat")
        for (d, w), a in m.accuracy.items():
            if a is None:
                ax.text(w, d, "div.", ha="center", va="center", fontsize=7, color="#bb3333")
        six = m.curve()
        ax.plot([w for w, _ in six], [d for _, d in six], color="white", linewidth=2, label="6 ξc")
        if m.best_k is not None:
            k = 0.5 * (m.best_k[0] + m.best_k[1])
            fit = m.curve(k)
            ax.plot([w for w, _ in fit], [d for _, d in fit], "--", color="orange", linewidth=1.4,
                    label=f"{k:g} ξc (best fit)")  # fmt: skip
        ax.set_ylim(ys[0], ys[-1])
        ax.set_xlim(xs[0], xs[-1])
        ax.set(xlabel="σw²", ylabel="depth (hidden layers)", title=f"{m.activation}, σb² = {m.sigma_b2:g}")
        ax.legend(loc="upper right", fontsize=8)
    bar = fig.colorbar(image, ax=axes[0].tolist(), fraction=0.04, pad=0.02)
    bar.set_label(f"final test accuracy (trained: > {TRAINABLE:g})", fontsize=9)
    _save(fig, path, plt)


def _edges(centres: list[float]) -> list[float]:
    """Cell edges halfway between the swept values (and as far beyond the ends)."""
    if len(centres) == 1:
        return [centres[0] - 0.5, centres[0] + 0.5]
    mids = [(a + b) / 2 for a, b in zip(centres, centres[1:])]
    return [2 * centres[0] - mids[0], *mids, 2 * centres[-1] - mids[-1]]


def _settings_rows(
    config: Mapping[str, object], swept: dict[str, list[SettingValue]], seeds: Sequence[int | None]
) -> list[list[str]]:
    rows = [["setting", "value"]]
    for k, v in config.items():
        if k == "cache_dir":
            continue
        if k == "seed":
            rows.append(["seeds", setting_text(seeds)])
        elif k in swept:
            rows.append([k, f"swept: {setting_text(swept[k])}"])
        else:
            rows.append([k, setting_text(v)])
    return rows


def _data_line(summary: Summary) -> str:
    ds: Mapping[str, object] = summary.dataset or {}
    members = ", ".join(m.activation for m in summary.members)
    return (
        f"{members} on {ds.get('name')} ({ds.get('train_size')} train / {ds.get('test_size')} test), "
        f"device {summary.device}"
    )


def sweep_markdown(collection: OpenedSweep, first: Summary) -> str:
    """A sweep's report text; the figures beside it are linked by name."""
    plan, results = collection.plan, collection.results
    axes = "; ".join(f"{n} = {', '.join(setting_text(v) for v in vs)}" for n, vs in plan.axes)
    runs = len(plan.points) * len(plan.seeds)
    done = sum(1 for p in results.points if p.complete)
    state = (
        "every point finished"
        if results.complete
        else f"{done} of {len(plan.points)} points finished ({len(collection.runs)} of {runs} runs started)"
    )
    sections = sweep_sections(results, "md")
    jobs = f"{len(plan.jobs)} job" + ("" if len(plan.jobs) == 1 else "s")
    lines = [
        f"# actlab sweep {collection.name}",
        "",
        f"{_data_line(first)}; {len(plan.points)} points ({axes}) x {len(plan.seeds)} seeds "
        f"({', '.join(map(str, plan.seeds))}) = {runs} runs in {jobs}; {state}.",
        "",
        "## Which activation wins where",
        "",
        f"![Iterations to the threshold at each point, the winner in each cell]({HEATMAP_PNG})",
        "",
        sections["heatmap"],
        "",
        "## Accuracy at each point",
        "",
        f"![Mean test accuracy over the seeds at each point, thresholds dashed]({ACCURACY_PNG})",
        "",
        "Each activation's mean test accuracy over the seeds (shaded: from the lowest seed to the "
        "highest), up to the last evaluation every seed has (a seed that diverged ends it); the "
        "thresholds dashed.",
        "",
        f"![Mean training loss over the seeds at each point, log scale]({LOSS_PNG})",
        "",
        "## Every point",
        "",
        sections["points"],
    ]
    if "best_lr" in sections:
        lines += ["", "## Each activation at its best learning rate", "", sections["best_lr"]]
    if "statements" in sections:
        lines += [
            "",
            "## Paired by seed",
            "",
            "Against the baseline, seed by seed: geometric mean and t interval of the per-seed ratios, "
            "Holm-adjusted over each point's paired tests.",
            "",
            sections["statements"],
        ]
    if "pairs" in sections:
        lines += ["", "## Each activation at its own best point", "", sections["pairs"]]
    maps = trainability_maps(results, plan.base)
    if maps:
        lines += [
            "",
            "## Trainability",
            "",
            f"![Final accuracy over depth x sigma_w^2, with 6 xi_c over it]({TRAINABILITY_PNG})",
        ]
        for m in maps:
            lines += ["", markdown(map_rows(m)), "", map_caption(m) + " (-: diverged or unfinished.)"]
    if "unfinished" in sections:
        lines += ["", sections["unfinished"]]
    if results.verdict is not None:
        lines += ["", "## Verdict", "", results.verdict.text]
    swept = {n: vs for n, vs in plan.axes}
    settings = _settings_rows(plan.base.to_dict(), swept, plan.seeds)
    lines += ["", "## Settings", "", markdown(settings), ""]
    return "\n".join(lines)


def seeds_markdown(collection: OpenedSeeds, agg: Aggregate | None, first: Summary) -> str:
    """A seeds or point directory's report text."""
    what = "seeds" if collection.kind == "seeds" else "sweep point"
    total = len(collection.runs) + len(collection.missing)
    finished = len(agg.seeds) if agg is not None else 0
    lines = [
        f"# actlab {what} {collection.name}",
        "",
        f"{_data_line(first)}; {finished} of {total} seeds finished.",
        "",
        "## Accuracy",
        "",
        f"![Mean test accuracy over the seeds, thresholds dashed]({ACCURACY_PNG})",
        "",
        "Each activation's mean test accuracy over the seeds (shaded: from the lowest seed to the "
        "highest), up to the last evaluation every seed has; the thresholds dashed.",
        "",
        f"![Mean training loss over the seeds, log scale]({LOSS_PNG})",
        "",
        "## Over the seeds",
        "",
    ]
    if agg is None:
        lines.append("No seed has finished yet.")
    else:
        parts = aggregate_sections(agg, "md")
        lines.append(parts["table"])
        if parts["pairs"]:
            lines += ["", "## Every pair", "", parts["pairs"].removeprefix("**Every pair**\n\n")]
        if agg.verdict is not None:
            lines += ["", "## Verdict", "", agg.verdict.text]
    config: Mapping[str, object] = first.config or {}
    seeds_used = agg.seeds if agg is not None else [first.seed]
    lines += ["", "## Settings", "", markdown(_settings_rows(config, {}, seeds_used)), ""]
    return "\n".join(lines)
