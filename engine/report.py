"""Plain-text tables of a summary, laid out like the seed's experiment table."""

from __future__ import annotations

from typing import Any


def crossing_text(first: int | None, sustained: int | None) -> str:
    """The seed's notation: sustained crossing, with the first in parentheses if earlier."""
    if sustained is None:
        return "not reached" if first is None else f"not held ({first} first)"
    if first is not None and first != sustained:
        return f"{sustained} ({first} first)"
    return str(sustained)


def speedup_text(speedup: float | None, is_baseline: bool) -> str:
    if is_baseline:
        return "baseline"
    if speedup is None:
        return "-"
    if speedup >= 1:
        return f"x{speedup:.1f} faster"
    return f"x{1 / speedup:.1f} slower"


def status_text(member: dict[str, Any]) -> str:
    if member["status"] == "diverged":
        return f"diverged at {member['diverged_at']}"
    return str(member["status"])


def _ratio(v: float | None) -> str:
    return "-" if v is None else f"x{v:.2f}"


def _fmt(v: float | None, digits: int) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def threshold_rows(summary: dict[str, Any]) -> list[list[str]]:
    """Rows of the iterations-to-threshold table: label, then one cell per member."""
    members = summary["members"]
    baseline = summary.get("baseline")
    rows: list[list[str]] = [["Function", *[m["activation"] for m in members]]]
    for k, t in enumerate(members[0]["thresholds"] if members else []):
        th = t["threshold"]
        rows.append(
            [f"Iterations to reach {th:g}"]
            + [crossing_text(m["thresholds"][k]["first"], m["thresholds"][k]["sustained"]) for m in members]
        )
        rows.append(
            [""] + [speedup_text(m["thresholds"][k]["speedup"], m["activation"] == baseline) for m in members]
        )
    rows.append(["Final accuracy"] + [_fmt(m["final_accuracy"], 4) for m in members])
    # the slides' row: each function's own epoch, timed alone (runs before member_costs
    # existed show the shared lockstep figure there, which the footer names as such)
    alone = [m.get("epoch_time_alone_s") for m in members]
    rows.append(["Training time of 1 epoch (s)"] + [_fmt(a, 4) for a in alone])
    if any(m.get("cost_vs_relu") is not None for m in members):
        rows.append(["  relative to relu"] + [_ratio(m.get("cost_vs_relu")) for m in members])
    rows.append(["Status"] + [status_text(m) for m in members])
    return rows


def render(rows: list[list[str]], gap: int = 3) -> str:
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(r[1:], widths[1:])]
        lines.append((" " * gap).join(cells).rstrip())
    return "\n".join(lines)


def threshold_table(summary: dict[str, Any]) -> str:
    """The comparison as the seed prints it, with a line on how it was measured."""
    ds = summary.get("dataset") or {}
    foot = (
        f"{ds.get('name')} ({ds.get('train_size')} train / {ds.get('test_size')} test), "
        f"device {summary.get('device')}, evaluated every {summary.get('eval_every')} iterations "
        f"on the whole test split; {summary.get('iterations')} iterations, "
        f"{summary.get('iterations_per_epoch')} per epoch; speedup vs {summary.get('baseline')} "
        "on the sustained crossing."
    )
    members = summary.get("members") or []
    lockstep = summary.get("epoch_time_s")
    cost = summary.get("cost_measurement")
    if lockstep is not None:
        foot += f"\nTraining time of 1 epoch of all {len(members)} members in lockstep: {lockstep:.4f} s"
        if cost:
            foot += (
                f"; each member alone: the fastest of {cost['rounds']} interleaved rounds of "
                f"{cost['steps'] // max(1, cost['rounds'])} step(s) ({cost['seconds']:.2f} s)."
            )
        else:
            foot += "."
    return render(threshold_rows(summary)) + "\n\n" + foot


def diagnostics_table(summary: dict[str, Any]) -> str:
    """Per member and hidden layer: gradient norm, saturated and dead fractions, mean, std."""
    rows = [["member", "layer", "grad norm", "saturated", "dead", "act mean", "act std"]]
    clip_lines = []
    for m in summary["members"]:
        diag = m.get("diagnostics")
        if not diag:
            rows.append([m["activation"], "-", "-", "-", "-", "-", "-"])
            continue
        for i, layer in enumerate(diag["layers"], 1):
            rows.append(
                [
                    m["activation"] if i == 1 else "",
                    str(i),
                    _sci(layer["grad_norm"]),
                    _pct(layer["saturated_fraction"]),
                    _pct(layer["dead_fraction"]),
                    _fmt(layer["activation_mean"], 3),
                    _fmt(layer["activation_std"], 3),
                ]
            )
        rows.append(["", "out", _sci(diag.get("output_grad_norm")), "", "", "", ""])
        slopes = diag.get("prelu_slopes")
        if slopes:
            listed = ", ".join("-" if v is None else f"{v:.3f}" for v in slopes)
            clip_lines.append(f"{m['activation']}: learned slope per layer {listed}")
        clip = diag.get("clipping")
        if clip:
            clip_lines.append(
                f"{m['activation']}: clipped {_pct(clip['clipped_fraction_total'])} of steps; "
                f"recent pre-clip norm {clip['preclip_norm']:.3g} (max {clip['preclip_norm_max']:.3g}) "
                f"vs threshold {clip['threshold']:g}"
            )
    text = render(rows)
    if clip_lines:
        text += "\n\n" + "\n".join(clip_lines)
    return text


def _sci(v: float | None) -> str:
    return "-" if v is None else f"{v:.2e}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def aggregate_table(agg: dict[str, Any]) -> str:
    """Mean +- standard deviation over seeds, per member."""
    members = agg["members"]
    n = agg["runs"]
    rows: list[list[str]] = [[f"Function ({n} seeds)", *[m["activation"] for m in members]]]
    for k, t in enumerate(members[0]["thresholds"] if members else []):
        cells = []
        for m in members:
            tk = m["thresholds"][k]
            if tk["reached"] == 0:
                cells.append(f"not reached (0/{n})")
            else:
                spread = "" if tk["sustained_std"] is None else f" ± {tk['sustained_std']:.0f}"
                cells.append(f"{tk['sustained_mean']:.0f}{spread} ({tk['reached']}/{n})")
        rows.append([f"Iterations to reach {t['threshold']:g}", *cells])
    cells = []
    for m in members:
        mean, std = m["final_accuracy_mean"], m["final_accuracy_std"]
        cells.append("-" if mean is None else f"{mean:.4f}" + ("" if std is None else f" ± {std:.4f}"))
    rows.append(["Final accuracy", *cells])
    rows.append(["Diverged", *[f"{m['diverged']}/{n}" for m in members]])
    return render(rows) + f"\n\nsustained crossing, mean ± standard deviation over seeds {agg['seeds']}"
