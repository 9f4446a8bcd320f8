"""The settings form's checks and the status line's figures, without a screen."""

from __future__ import annotations

from actlab.engine import RunConfig
from actlab.engine.events import Progress, RunFinished, RunStarted
from actlab.tui.settings import (
    FIELD_BY_NAME,
    FIELDS,
    FORM_ERROR,
    FieldSpec,
    FormValues,
    check_settings,
    form_values,
    format_value,
)
from actlab.tui.state import Phase, RunStatus, clock
from actlab.tui.widgets.format import decimate, iteration_axis


def form_of(config: RunConfig) -> FormValues:
    """The form showing `config`: a choice's value, every other field's text."""

    def text(spec: FieldSpec) -> str:
        value = getattr(config, spec.name)
        return str(value) if spec.kind == "choice" else format_value(spec, value)

    return form_values(list(config.activations), text)


def test_the_form_has_one_value_per_field_in_the_forms_order() -> None:
    names = ["activations", *(spec.name for spec in FIELDS)]
    assert list(FormValues.__annotations__) == names
    form = form_of(RunConfig(lr=0.25, dataset="idx", data_dir="/d"))
    assert list(form) == names
    assert form["lr"] == "0.25" and form["dataset"] == "idx" and form["data_dir"] == "/d"
    assert form["activations"] == list(RunConfig().activations)


def test_the_default_form_is_the_default_config() -> None:
    config, errors = check_settings(RunConfig(), form_of(RunConfig()))
    assert errors == {} and config == RunConfig()


def test_every_bad_field_gets_its_own_reason_in_the_engines_words() -> None:
    form = form_of(RunConfig())
    form["lr"], form["depth"], form["thresholds"], form["seed"] = "-1", "0", "0.8,1.5", "x"
    form["activations"] = []
    config, errors = check_settings(RunConfig(), form)
    assert config is None
    assert errors["lr"] == "lr -1.0: must be a number > 0"
    assert errors["depth"] == "depth 0: must be an integer >= 1"
    assert errors["thresholds"] == "threshold 1.5: must be in (0, 1]"
    assert errors["seed"] == "seed 'x': must be a whole number"
    assert errors["activations"] == "activations: at least one is needed"


def test_idx_needs_a_directory_and_the_error_sits_on_that_field() -> None:
    form = form_of(RunConfig())
    form["dataset"], form["data_dir"] = "idx", ""
    _, errors = check_settings(RunConfig(), form)
    assert set(errors) == {"data_dir"}
    form["data_dir"] = "/some/where"
    config, errors = check_settings(RunConfig(), form)
    assert errors == {} and config is not None and config.data_dir == "/some/where"


def test_fields_the_form_does_not_show_come_from_the_base() -> None:
    base = RunConfig(device="cpu", eval_every=7)
    config, _ = check_settings(base, form_of(base))
    assert config is not None and config.device == "cpu" and config.eval_every == 7
    bad_base = RunConfig(device="tpu")
    config, errors = check_settings(bad_base, form_of(bad_base))
    assert config is None and "device 'tpu'" in errors[FORM_ERROR]


def test_blank_max_iterations_means_whole_epochs() -> None:
    assert format_value(FIELD_BY_NAME["max_iterations"], None) == ""
    config, _ = check_settings(RunConfig(), form_of(RunConfig()) | {"max_iterations": " "})
    assert config is not None and config.max_iterations is None


def test_status_shows_recorded_figures_only() -> None:
    status = RunStatus(phase=Phase.TRAINING)
    status.feed(
        RunStarted(
            config=RunConfig(epochs=2).to_dict(),
            members=["relu"],
            baseline="relu",
            dataset={"name": "sample", "train_size": 4000, "test_size": 1000, "notice": "fell back"},
            device="cpu",
            eval_every=5,
            diagnostics_every=0,
            iterations_per_epoch=62,
            total_iterations=124,
        )
    )
    status.feed(Progress(iteration=62, epoch=1, elapsed_s=2.0))
    assert status.rate == 31.0
    status.feed(RunFinished(status="done", iteration=124, elapsed_s=4.0))
    parts = status.parts()
    assert "iteration 124/124" in parts and "31 it/s" in parts and "elapsed 4.0 s" in parts
    assert status.notice == "fell back"
    assert clock(75) == "1:15" and clock(3725) == "1:02:05"


def test_charts_keep_the_last_point_and_round_ticks() -> None:
    xs, ys = decimate(list(range(1000)), [float(i) for i in range(1000)], 50)
    assert len(xs) <= 50 and xs[0] == 0 and xs[-1] == 999

    class Ticks:
        def xlim(self, lo: float, hi: float) -> None:
            pass

        def xticks(self, ticks: list[float], labels: list[str]) -> None:
            self.labels = labels

    plt = Ticks()
    iteration_axis(plt, [0, 93750], 200, most=5)  # type: ignore[arg-type]
    assert plt.labels == ["0", "20000", "40000", "60000", "80000"]
    iteration_axis(plt, [0, 124], 200, most=5)  # type: ignore[arg-type]
    assert plt.labels == ["0", "50", "100"]
