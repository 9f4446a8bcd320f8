"""The `actlab-tui` command: the Textual lab by default, `--batch` headless, `serve` for a browser."""

from __future__ import annotations

import sys
from typing import Any

import click
from actlab.engine import ConfigError, DataError, RunConfig
from actlab.engine.config import PRESET_SWEEPS, check_data_source
from actlab.engine.experiments.report import FORMATS, summary_text
from actlab.engine.experiments.results import EventReader, replay
from actlab.engine.experiments.store import ResultsError, reading

from .options import build_config, config_options

EXIT_USAGE = 2


class ThreadsParam(click.ParamType):
    """`--threads`: a whole number 1..1024, or "auto" (the thread tuner, opt-in)."""

    name = "N|auto"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | str:
        if isinstance(value, int):
            number = value
        elif str(value).strip().lower() == "auto":
            return "auto"
        elif str(value).strip().isdigit():
            number = int(str(value).strip())
        else:
            self.fail(f"{value!r}: allowed a whole number 1..1024 or 'auto'", param, ctx)
        if not 1 <= number <= 1024:
            self.fail(f"{value!r}: allowed a whole number 1..1024 or 'auto'", param, ctx)
        return number


# `--help` in groups: an option's group by its parameter name, in this order; anything not
# named here falls under "Other".
HELP_GROUPS: dict[str, tuple[str, ...]] = {
    "What to run": ("batch", "open_dir", "preset", "threads"),
    "The comparison": ("activations", "depth", "width", "init", "sigma_w2", "sigma_b2", "seed"),
    "Training": ("optimizer", "lr", "momentum", "batch_size", "epochs", "max_iterations", "loss"),
    "Regularization and clipping": ("weight_decay", "l1", "dropout", "clip", "clip_threshold"),
    "Evaluation": ("thresholds", "eval_every", "diagnostics_every", "validation", "validation_seed"),
    "Data and device": ("dataset", "data_dir", "cache_dir", "fallback", "input_scaling", "device"),
    "With --batch: output": ("out", "fmt", "as_json", "show_diagnostics", "theory", "quiet"),
    "With --batch: seeds and sweeps": ("seeds", "sweep", "resume", "workers", "backend", "ray_address"),
}


class GroupedHelp(click.Group):
    """The root command, its `--help` options shown in HELP_GROUPS' sections."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows: dict[str, list[tuple[str, str]]] = {title: [] for title in HELP_GROUPS}
        where = {name: title for title, names in HELP_GROUPS.items() for name in names}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                rows.setdefault(where.get(param.name or "", "Other"), []).append(record)
        for title, records in rows.items():
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)
        self.format_commands(ctx, formatter)


@click.group(
    cls=GroupedHelp,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--batch", is_flag=True, help="Run the comparison headless: progress on stderr, table on stdout."
)
@click.option("--out", "-o", type=str, help="Results directory for --batch. [default: actlab-runs/<time>]")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="How tables print (also for compare): aligned text, Markdown (for slides), CSV "
    "figures or the JSON summary. [default: table]",
)
@click.option("--json", "as_json", is_flag=True, help="The same as --format json.")
@click.option(
    "--diagnostics",
    "show_diagnostics",
    is_flag=True,
    help="Also print per-layer gradient norms, saturated and dead fractions.",
)
@click.option(
    "--theory",
    is_flag=True,
    help="Also print each member's mean-field theory at its init: (sigma_w^2, sigma_b^2), q*, chi_1, "
    "phase, c*, xi_c, the trainable depth 6 xi_c, and the ratio of the gradient norms of the first and "
    "the last hidden layer it predicts beside the one measured before the first step (diagnostics on); "
    "written to theory.json too. One run: not with --seeds or --sweep (open one of their runs with "
    "--batch --open DIR --theory).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@click.option(
    "--threads",
    type=ThreadsParam(),
    help="PyTorch's CPU threads for training (the app's engine process uses as many). A fixed count "
    "is reproducible: the same command and seed give the same numbers on this machine, quiet or busy. "
    "'auto' chooses the count while training by timing the run's own steps, so a run keeps its speed "
    "when other jobs compete, but its numbers are then not bit-for-bit reproducible. "
    "[default: PyTorch's default count, fixed (OMP_NUM_THREADS, else one per core)]",
)
@click.option(
    "--seeds",
    type=click.IntRange(1, 1000),
    default=1,
    help="Repeat the comparison with seeds S, S+1, ... and print mean and spread.",
)
@click.option(
    "--sweep",
    type=str,
    help='Repeat the comparison over a cross product of settings, e.g. "lr=0.01,0.1 '
    'depth=1,2". Per-member settings (lr, momentum, weight_decay, l1, clip_threshold, dropout, init, '
    "sigma_w2, sigma_b2) and the seeds train in one cohort; depth, width, batch_size, optimizer, loss, "
    "clip, input_scaling, dataset and epochs make separate jobs.",
)
@click.option(
    "--resume",
    "resume",
    type=str,
    metavar="DIR",
    help="Finish an interrupted --sweep/--seeds directory: only its unfinished jobs run "
    "(its own settings are used).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 1024),
    help="Sweep jobs run at once, each with cores/workers threads (never more threads "
    "than cores; one job per GPU). [default: 1, in this process; with Ray, as many as it schedules]",
)
@click.option(
    "--backend",
    type=click.Choice(("local", "ray")),
    default="local",
    help="Where sweep jobs run: here, or as Ray tasks (needs actlab[ray]). [default: local]",
)
@click.option(
    "--ray-address",
    type=str,
    help="With --backend ray: an existing Ray cluster (ray://host:10001 or auto). [default: a local Ray]",
)
@click.option(
    "--open",
    "open_dir",
    type=str,
    help="Show a saved run directory (replays its events.jsonl), or a --sweep or --seeds directory "
    "(its tables, heatmap and paired statements; Enter opens a point's seeds and their runs); with "
    "--batch, print its tables.",
)
@click.option("--served", is_flag=True, hidden=True)  # set by `serve` for each browser session
@config_options
@click.pass_context
def cli(
    ctx: click.Context,
    batch: bool,
    out: str | None,
    fmt: str | None,
    as_json: bool,
    show_diagnostics: bool,
    theory: bool,
    quiet: bool,
    threads: int | str | None,
    seeds: int,
    sweep: str | None,
    resume: str | None,
    workers: int | None,
    backend: str,
    ray_address: str | None,
    open_dir: str | None,
    served: bool,
    preset: str | None,
    **values: Any,
) -> int:
    """Compare activation functions by training MLPs that differ only in their activation.

    \b
    actlab-tui                          open the lab (Textual app)
    actlab-tui --batch -d sample        compare sigmoid, tanh and relu headless
    actlab-tui --batch --preset seed    the slides' experiment (100 epochs of MNIST)
    actlab-tui --open actlab-runs/X     look at a saved run
    actlab-tui serve                    the lab in a browser (needs textual-serve)
    """
    config = build_config(preset, values)
    if as_json and fmt not in (None, "json"):
        raise click.UsageError(f"--json is --format json; it cannot go with --format {fmt}")
    fmt = "json" if as_json else fmt
    if not batch and ctx.invoked_subcommand in (None, "serve"):
        # the app (and serve) check and measure the user's functions in a helper process now:
        # a bad one is one line and exit 2, and the app's own process never imports it
        from actlab.engine.custom_process import custom_specs, describe, describe_entry_points

        describe(custom_specs(config))
        describe_entry_points(config)
    ctx.obj = {"config": config, "open_dir": open_dir, "format": fmt}
    if ctx.invoked_subcommand is not None:
        return 0
    fmt = fmt or "table"
    repeat = (sweep, resume, workers is not None, backend != "local", ray_address)
    if not batch and any(repeat):
        raise click.UsageError("--sweep, --resume, --workers, --backend and --ray-address go with --batch")
    if theory and not batch:
        raise click.UsageError("--theory goes with --batch (the app will show it in its own tab)")
    if batch:
        if open_dir:
            return _print_saved(open_dir, fmt, show_diagnostics, theory)
        from actlab.engine.experiments.batch import SweepOptions

        from .batch import run_batch

        if resume is not None and out is not None:
            raise click.UsageError("--resume writes into the directory it resumes; drop --out")
        if resume is not None:
            _refuse_settings_with_resume(ctx, [*values, "preset", "seeds", "sweep"])
        if ray_address is not None and backend != "ray":
            raise click.UsageError("--ray-address goes with --backend ray")
        if sweep is None and preset is not None:
            sweep = PRESET_SWEEPS.get(preset)
        if theory and (seeds > 1 or sweep or resume is not None):
            raise click.UsageError(
                "--theory goes with a single run, not with --seeds, --sweep, --resume or a preset's sweep; "
                "open one of their runs with --batch --open DIR --theory"
            )
        opts = SweepOptions(seeds, sweep, resume, workers, backend, ray_address)
        return run_batch(config, out, fmt, show_diagnostics, quiet, seeds, threads, opts, theory)
    from .app import create_app

    check_data_source(config)
    opened = None
    if open_dir:
        from actlab.engine.experiments.saved import load_saved

        with reading(open_dir):  # a foreign, damaged or unreadable directory: one line, exit 2
            opened = load_saved(open_dir)
            if opened is None:  # a run: its directory and first event looked at before the app starts
                next(EventReader(open_dir).events(final=False), None)
    app = create_app(config=config, open_dir=open_dir, threads=threads, served=served, opened=opened)
    app.run()
    return app.exit_code


@cli.command()
@click.option(
    "--host",
    default="localhost",
    show_default=True,
    help="Address to listen on. Anything but loopback lets other machines reach the token page.",
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> int:
    """Serve the lab to a browser on HOST:PORT, behind a secret token printed in its address.

    The lab's options go before `serve` (actlab-tui -a relu,gelu --threads 1 serve); each browser
    session is a new app with them. Needs textual-serve: pip install 'actlab[serve]'.
    """
    root = ctx.parent.params if ctx.parent is not None else {}
    for name, (flag, unset) in _BATCH_ONLY.items():
        if root.get(name, unset) != unset:
            raise click.UsageError(f"{flag} is for --batch runs; serve takes the app's options only")
    try:
        from .serve import app_argv, is_loopback, serve_lab
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("textual_serve", "aiohttp", "aiohttp_jinja2", "jinja2"):
            raise
        raise click.ClickException(
            "serve needs the textual-serve package: pip install 'actlab[serve]'"
        ) from None
    if not is_loopback(host):
        click.echo(
            f"actlab-tui: warning: listening on {host!r}, not loopback: other machines can reach the "
            "server, and without TLS the token travels in clear (an SSH tunnel to loopback is safer)",
            err=True,
        )
    config: RunConfig = ctx.obj["config"]
    serve_lab(app_argv(config, threads=root.get("threads"), open_dir=ctx.obj["open_dir"]), host, port)
    return 0


@cli.command()
@click.argument("directories", nargs=-1, required=True, metavar="DIR...")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="How the tables print (csv: the members' figures only). [default: table]",
)
@click.option(
    "--chart/--no-chart",
    default=None,
    help="Draw the accuracy curves as a text chart. [default: when stdout is a terminal and the "
    "format is table]",
)
@click.option(
    "--app",
    "in_app",
    is_flag=True,
    help="Show the same in the app (Textual): the table, the settings that differ and the curves "
    "in tabs; Enter on a member replays its run in the lab.",
)
@click.pass_context
def compare(
    ctx: click.Context, directories: tuple[str, ...], fmt: str | None, chart: bool | None, in_app: bool
) -> int:
    """Saved runs side by side: every member of every run in one table, the settings that
    differ between the runs, and their accuracy curves on one chart. A sweep directory stands
    for every point's seed runs, a --seeds directory or a sweep's point for its seeds; given
    alone, its tables follow (the sweep's, or the aggregate over the seeds).

    \b
    actlab-tui compare actlab-runs/A actlab-runs/B
    actlab-tui compare --format md actlab-runs/A actlab-runs/B > slides.md
    actlab-tui compare --app actlab-runs/A actlab-runs/B
    """
    from actlab.engine.experiments.compare import compare_text, load_comparison

    from .compare import accuracy_chart, chart_size

    if in_app and (fmt is not None or chart is not None):
        raise click.UsageError("--app shows the comparison in the app; --format and --chart are for printing")
    fmt = fmt or (ctx.obj or {}).get("format") or "table"
    # a foreign, corrupt or unreadable directory: one line, exit 2
    with reading(" ".join(directories)):
        runs, collection = load_comparison(list(directories))
    if in_app:
        from .app import create_app

        root = ctx.parent.params if ctx.parent is not None else {}
        app = create_app(config=(ctx.obj or {}).get("config"), compare_runs=runs, threads=root.get("threads"))
        app.run()
        return app.exit_code
    with reading(" ".join(directories)):  # a collection's tables read its summaries again
        text = compare_text(runs, fmt, collection)
    click.echo(text)
    tty = sys.stdout.isatty()
    if chart if chart is not None else (tty and fmt == "table"):
        width, height = chart_size()
        click.echo("\n" + accuracy_chart(runs, width, height, colour=tty))
    return 0


@cli.command()
@click.argument("directory", metavar="DIR")
@click.option(
    "--out",
    "out",
    type=str,
    help="Directory for report.md and its figures (made if missing). [default: DIR itself]",
)
def report(directory: str, out: str | None) -> int:
    """A saved run as a Markdown report: report.md with PNG figures (accuracy curves with the
    thresholds, gradient norm against depth) and the tables. A sweep directory: which activation
    wins where (heatmap), the accuracy at each point and the sweep's tables; a --seeds directory
    or a sweep's point: the mean curves and the aggregate over the seeds. Writes only report.md
    and its report-*.png figures. Needs matplotlib: pip install 'actlab[report]'."""
    from actlab.engine.experiments.run_report import ReportError, write_report

    try:
        with reading(directory):
            path = write_report(directory, out)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"report: {path}")
    return 0


# Root options that only --batch uses, and their values when not given: refused with serve
# rather than silently dropped.
_BATCH_ONLY: dict[str, tuple[str, Any]] = {
    "batch": ("--batch", False),
    "out": ("--out", None),
    "as_json": ("--json", False),
    "fmt": ("--format", None),
    "show_diagnostics": ("--diagnostics", False),
    "theory": ("--theory", False),
    "quiet": ("--quiet", False),
    "seeds": ("--seeds", 1),
    "sweep": ("--sweep", None),
    "resume": ("--resume", None),
    "workers": ("--workers", None),
    "backend": ("--backend", "local"),
    "ray_address": ("--ray-address", None),
}


def _refuse_settings_with_resume(ctx: click.Context, names: list[str]) -> None:
    """--resume trains the sweep as planned (its sweep.json): settings given beside it would
    be silently ignored, so they are refused."""
    given = [
        max(p.opts, key=len)
        for p in ctx.command.params
        if p.name in names and ctx.get_parameter_source(p.name) == click.core.ParameterSource.COMMANDLINE
    ]
    if given:
        raise click.UsageError(
            f"--resume trains the sweep with its own settings (its sweep.json); drop {', '.join(given)}"
        )


def _print_saved(directory: str, fmt: str, show_diagnostics: bool, theory: bool = False) -> int:
    from actlab.engine.experiments.saved import saved_sweep_text

    with reading(directory):  # a foreign, damaged or unreadable directory: one line, exit 2
        text = saved_sweep_text(directory, fmt)  # a sweep or seeds directory: its tables
        if text is not None and theory:
            raise click.UsageError(
                f"--theory: {directory} holds several runs (seeds or a sweep); open one of them"
            )
        if text is None:
            text = summary_text(replay(directory, lambda e: None), fmt, show_diagnostics)
            if theory:
                from actlab.engine.experiments.theory import (
                    stored_input_mean_square,
                    theory_of_run,
                    with_theory,
                )

                rows = theory_of_run(directory, stored_input_mean_square(directory))
                text = with_theory(text, rows, fmt)
    click.echo(text)
    return 0


def main(argv: list[str] | None = None) -> None:
    """Entry point: every bad input is one line on stderr and exit code 2, never a traceback."""
    try:
        rv = cli.main(args=argv, prog_name="actlab-tui", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        sys.exit(0)
    except click.ClickException as exc:
        click.echo(f"actlab-tui: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code if exc.exit_code not in (0, 1) else EXIT_USAGE)
    except click.exceptions.Abort:
        sys.exit(130)
    except (ConfigError, DataError, ResultsError) as exc:
        click.echo(f"actlab-tui: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # an engine failure: one line, not a traceback
        click.echo(f"actlab-tui: error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)
