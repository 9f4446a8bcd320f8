"""Theory beside measurement: each member's mean-field figures at its initialization, and the
gradient ratio it predicts next to the one the diagnostics probe measured before the first step.

`theory_rows` is the one computation (plain NumPy, no PyTorch: the app's process may call it);
`theory_of_run` feeds it a stored run (its settings, members, custom descriptions and the
iteration-0 probe); `theory_text` prints it in every output format and `with_theory` puts it
after a run's own tables. docs/theory.md says what each figure is and how well they agree.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from actlab.engine.activation_lookup import builtin, from_description, lookup
from actlab.engine.activations import Activation, SpecError, member_spec
from actlab.engine.config import RunConfig
from actlab.engine.events import ActivationDescription, Diagnostics, Evaluation, RunStarted, SettingValue
from actlab.engine.meanfield import MeanField, init_variance, mean_field
from actlab.engine.meanfield_mlp import MNIST_FEATURES, GradRatio, first_layer_variance, grad_norm_ratio

from .report import as_text, csv_text
from .results import read_events
from .store import ResultsError, read_json, write_file

THEORY_FILE = "theory.json"


@dataclass(frozen=True)
class MemberTheory:
    """One member: its activation, init as (sigma_w^2, sigma_b^2), the mean-field figures there,
    and the ratio |grad W_1| / |grad W_L| at initialization, predicted and measured. `reason`:
    why figures are missing."""

    activation: str
    init: str
    init_note: str
    mean_field: MeanField | None
    ratio: GradRatio | None
    first_sigma: tuple[float, float] | None  # the first layer's (sigma_w^2, sigma_b^2)
    measured_ratio: float | None  # sample_grad_norm: each probe sample's own gradient, rms
    measured_batch_ratio: float | None  # grad_norm: the probe batch's mean gradient
    reason: str | None = None

    @property
    def predicted_ratio(self) -> float | None:
        r = self.ratio.ratio if self.ratio is not None else math.nan
        return r if math.isfinite(r) else None

    @property
    def quotient(self) -> float | None:
        """measured / predicted."""
        p, m = self.predicted_ratio, self.measured_ratio
        return m / p if p and m is not None else None

    @property
    def reasons(self) -> str:
        """Why figures are missing or infinite, in one line ("" when none)."""
        parts = [self.reason, self.mean_field and self.mean_field.reason, self.ratio and self.ratio.reason]
        return "; ".join(p for p in parts if isinstance(p, str) and p)

    def to_json(self) -> dict[str, object]:
        """theory.json's member object: plain data, inf and NaN as None (`reason` says why)."""
        mf, gr = self.mean_field, self.ratio
        fixed = None if mf is None or gr is None else mf.predicted_grad_norm_ratio(gr.depth)
        out: dict[str, object] = {
            "activation": self.activation,
            "init": self.init,
            "init_note": self.init_note,
            "sigma_w2": None if mf is None else mf.sigma_w2,
            "sigma_b2": None if mf is None else mf.sigma_b2,
            "first_layer_sigma_w2": None if self.first_sigma is None else self.first_sigma[0],
            "first_layer_sigma_b2": None if self.first_sigma is None else self.first_sigma[1],
            "q_star": None if mf is None else mf.q_star,
            "chi_1": None if mf is None else mf.chi_1,
            "phase": "unknown" if mf is None else mf.phase,
            "c_star": None if mf is None else mf.c_star,
            "chi_c": None if mf is None else mf.chi_c,
            "xi_c": None if mf is None else mf.xi_c,
            "trainable_depth": None if mf is None else mf.trainable_depth,
            "depth": None if gr is None else gr.depth,
            "width": None if gr is None else gr.width,
            "input_mean_square": None if gr is None else gr.input_mean_square,
            "q_1": None if gr is None or not gr.q else gr.q[0],
            "fixed_point_ratio": fixed,
            "predicted_ratio": self.predicted_ratio,
            "measured_ratio": self.measured_ratio,
            "measured_over_predicted": self.quotient,
            "measured_batch_ratio": self.measured_batch_ratio,
            "reason": self.reasons or None,
            "caveat": None if mf is None else mf.caveat,
        }
        return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in out.items()}


def _activation(spec: str, described: Mapping[str, ActivationDescription]) -> Activation | str:
    """The member's Activation without PyTorch, or one line saying why there is none."""
    try:
        ms = member_spec(spec)
    except SpecError as exc:
        return str(exc)
    if ms.kind == "builtin":
        return builtin(spec)
    if ms.name in described:
        return from_description(described[ms.name])
    known = lookup(ms.name)
    if known is not None:
        return known
    return f"custom activation {spec!r}: its curves were not measured in this run (no description)"


def _measured(diagnostics: Diagnostics | None, k: int, key: str) -> float | None:
    member = diagnostics.members[k] if diagnostics is not None and k < len(diagnostics.members) else None
    layers = member["layers"] if member else []
    if not layers:
        return None
    first, last = layers[0].get(key), layers[-1].get(key)
    return (
        first / last if isinstance(first, (int, float)) and isinstance(last, (int, float)) and last else None
    )


def theory_rows(
    config: RunConfig,
    *,
    members: Sequence[str] | None = None,
    member_settings: Sequence[Mapping[str, SettingValue]] | None = None,
    diagnostics: Diagnostics | None = None,
    descriptions: Sequence[ActivationDescription] = (),
    n_features: int = MNIST_FEATURES,
    input_mean_square: float | None = None,
) -> list[MemberTheory]:
    """Each member's theory at `config`'s depth and width: `members` (default the config's
    activations), each with `member_settings` over the config where given (init, sigma_w2,
    sigma_b2: a cohort's own settings); `diagnostics` the iteration-0 probe of those members, for
    the measured ratio; `descriptions` the run's custom activations; `input_mean_square` the mean
    of x^2 the first layer sees (None: 1 with standard input scaling, which makes it 1 over the
    training split, else unknown and no ratio is predicted)."""
    specs = list(members if members is not None else config.activations)
    described = {d["name"]: d for d in descriptions}
    m2 = input_mean_square
    if m2 is None and config.input_scaling == "standard":
        m2 = 1.0
    rows = []
    for k, spec in enumerate(specs):
        own = config.replace(**dict(member_settings[k])) if member_settings else config
        measured = _measured(diagnostics, k, "sample_grad_norm"), _measured(diagnostics, k, "grad_norm")
        act = _activation(spec, described)
        if isinstance(act, str):
            rows.append(MemberTheory(spec, own.init, "", None, None, None, *measured, reason=act))
            continue
        sigmas = {"sigma_w2": own.sigma_w2, "sigma_b2": own.sigma_b2} if own.init == "gaussian" else {}
        iv = init_variance(own.init, act, width=own.width, **sigmas)
        first = first_layer_variance(own.init, act, n_features=n_features, width=own.width, **sigmas)
        q_1 = None if m2 is None else first.sigma_w2 * m2 + first.sigma_b2
        # q_depth counted from the first hidden layer's q, where the net starts
        mf = mean_field(act, iv.sigma_w2, iv.sigma_b2, q0=q_1 if q_1 and math.isfinite(q_1) else 1.0)
        gr, why = None, None
        if m2 is None:
            scaling = own.input_scaling
            why = f"the input's mean square is not known for input scaling {scaling!r}: no ratio predicted"
        else:
            gr = grad_norm_ratio(
                act, iv.sigma_w2, iv.sigma_b2, own.depth, own.width,
                n_features=n_features, input_mean_square=m2, first=(first.sigma_w2, first.sigma_b2),
            )  # fmt: skip
        sig = (first.sigma_w2, first.sigma_b2)
        rows.append(MemberTheory(spec, own.init, iv.note, mf, gr, sig, *measured, why))
    return rows


def theory_of_run(directory: str | Path, input_mean_square: float | None = None) -> list[MemberTheory]:
    """`theory_rows` of a stored run: its settings, members and custom descriptions from its
    run_started, the measured ratio from its diagnostics at iteration 0 (before the first step)."""
    started: RunStarted | None = None
    probe: Diagnostics | None = None
    for event in read_events(directory):
        if isinstance(event, RunStarted):
            started = event
        elif isinstance(event, Diagnostics):
            probe = event if event.iteration == 0 else None
            break
        elif isinstance(event, Evaluation):
            break  # training began without a probe at initialization
    assert started is not None  # read_events' first event, or it raised
    settings = started.cohort.get("member_settings") if started.cohort is not None else None
    config = RunConfig.from_dict(started.config)
    return theory_rows(
        config,
        members=started.members,
        member_settings=settings,
        diagnostics=probe,
        descriptions=started.custom_activations,
        n_features=started.layer_sizes[0] if started.layer_sizes else MNIST_FEATURES,
        input_mean_square=started.input_mean_square if input_mean_square is None else input_mean_square,
    )


def stored_input_mean_square(directory: str | Path) -> float | None:
    """The input's mean square a run's theory.json was computed with (None: no theory.json), so
    that a saved run's theory prints as it did when it was trained."""
    try:
        stored = read_json(Path(directory) / THEORY_FILE, "not a readable theory.json")
    except FileNotFoundError:
        return None
    first = stored[0] if isinstance(stored, list) and stored else None
    m2 = first.get("input_mean_square") if isinstance(first, dict) else None
    if m2 is None:
        return None
    if isinstance(m2, bool) or not isinstance(m2, (int, float)) or not math.isfinite(m2) or m2 < 0:
        raise ResultsError(f"{Path(directory) / THEORY_FILE}: input_mean_square is not a number >= 0")
    return float(m2)


def write_theory(directory: str | Path, rows: Sequence[MemberTheory]) -> Path:
    """theory.json in the run directory: the JSON output's "theory" list (rewritten if there)."""
    path = Path(directory) / THEORY_FILE
    write_file(path, json.dumps([r.to_json() for r in rows], indent=2) + "\n", replace=True)
    return path


# ------------------------------------------------------------------------------ tables


def _g(v: float | None, digits: int = 3) -> str:
    if v is None or math.isnan(v):
        return "-"
    return "inf" if math.isinf(v) else f"{v:.{digits}g}"


CSV_COLUMNS = [
    "activation", "init", "sigma_w2", "sigma_b2", "q_star", "chi_1", "phase", "c_star", "xi_c",
    "trainable_depth", "depth", "q_1", "predicted_ratio", "measured_ratio", "measured_over_predicted",
    "measured_batch_ratio", "reason",
]  # fmt: skip


def theory_text(rows: Sequence[MemberTheory], fmt: str = "table") -> str:
    """The theory table in one of report.FORMATS (json: the list of member objects)."""
    if fmt == "json":
        return json.dumps([r.to_json() for r in rows], indent=2)
    if fmt == "csv":
        return csv_text([CSV_COLUMNS, *([r.to_json()[c] for c in CSV_COLUMNS] for r in rows)])
    head = ["member", "init (sigma_w^2, sigma_b^2)", "q*", "chi_1", "phase", "c*", "xi_c", "6 xi_c"]
    table = [[*head, "ratio predicted", "measured", "meas/pred"]]
    for r in rows:
        mf = r.mean_field
        if mf is None:
            table.append([r.activation, r.init, *["-"] * 9])
            continue
        init = f"{r.init} ({mf.sigma_w2:.4g}, {mf.sigma_b2:.4g})"
        figures = [
            _g(mf.q_star),
            _g(mf.chi_1, 4),
            mf.phase,
            _g(mf.c_star),
            _g(mf.xi_c),
            _g(mf.trainable_depth),
        ]
        table.append(
            [r.activation, init, *figures, _g(r.predicted_ratio), _g(r.measured_ratio), _g(r.quotient)]
        )
    return as_text(table, _notes(rows), fmt, left=2)


def _notes(rows: Sequence[MemberTheory]) -> list[str]:
    notes: list[str] = []
    inits = dict.fromkeys(f"init {r.init}: {r.init_note}" for r in rows if r.init_note)
    notes.extend(inits)
    depth = next((r.ratio.depth for r in rows if r.ratio is not None), None)
    if depth is not None:
        notes.append(
            f"ratio: |grad W_1| / |grad W_{depth}|, the weights into the first and the last hidden layer, "
            "before the first step; measured: each of the probe's images' own gradient, root mean square "
            "over the probe batch (the diagnostics' sample_grad_norm); predicted: mean-field from "
            "q_1 = sigma_w0^2 mean(x^2) + sigma_b0^2 through every layer, times the two layers' input "
            "sizes (actlab.engine.meanfield_mlp). 6 xi_c: the predicted trainable depth."
        )
    for r in rows:
        extra = []
        if r.measured_batch_ratio is not None:
            extra.append(f"the probe batch's mean gradient gives {_g(r.measured_batch_ratio)}")
        if r.mean_field is not None and r.ratio is not None:
            fixed = r.mean_field.predicted_grad_norm_ratio(r.ratio.depth)
            extra.append(f"at q* alone chi_1^({r.ratio.depth - 1}/2) = {_g(fixed)}")
        if r.first_sigma is not None and r.mean_field is not None:
            w0, b0 = r.first_sigma
            if (w0, b0) != (r.mean_field.sigma_w2, r.mean_field.sigma_b2):
                extra.append(f"first layer (sigma_w^2, sigma_b^2) = ({w0:.4g}, {b0:.4g})")
        if r.reasons:
            extra.append(r.reasons)
        if extra:
            notes.append(f"{r.activation}: " + "; ".join(extra))
    if rows and all(r.measured_ratio is None for r in rows):
        notes.append("measured: no diagnostics at iteration 0 (diagnostics off, or a run of an older actlab)")
    return notes


def with_theory(tables: str, rows: Sequence[MemberTheory], fmt: str) -> str:
    """A run's tables, then the theory table: json {"summary": ..., "theory": [...]}; csv a second
    block after a blank line; table and md after a blank line."""
    if fmt == "json":
        return json.dumps({"summary": json.loads(tables), "theory": [r.to_json() for r in rows]}, indent=2)
    return tables + "\n\n" + theory_text(rows, fmt)
