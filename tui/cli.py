"""The `actlab-tui` command: the Textual lab by default, `--batch` headless, `serve` for a browser."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click
from actlab.engine import ConfigError, DataError, ResultsError, RunConfig
from actlab.engine.report import diagnostics_table, threshold_table
from actlab.engine.results import replay

from .options import build_config, config_options
from .threads import request_threads

EXIT_USAGE = 2


@click.group(
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--batch", is_flag=True, help="Run the comparison headless: progress on stderr, table on stdout."
)
@click.option("--out", "-o", type=str, help="Results directory for --batch. [default: actlab-runs/<time>]")
@click.option(
    "--json", "as_json", is_flag=True, help="With --batch: print the summary as JSON instead of the table."
)
@click.option(
    "--diagnostics",
    "show_diagnostics",
    is_flag=True,
    help="With --batch: also print per-layer gradient norms, saturated and dead fractions.",
)
@click.option("--quiet", "-q", is_flag=True, help="With --batch: no progress on stderr.")
@click.option(
    "--threads",
    type=click.IntRange(1, 1024),
    help="CPU threads for PyTorch (the app's engine process uses as many). [default: PyTorch's, "
    "all cores] On a machine shared with other busy jobs, 1 can be several times faster.",
)
@click.option(
    "--seeds",
    type=click.IntRange(1, 1000),
    default=1,
    help="With --batch: repeat the comparison with seeds S, S+1, ... and print mean and spread.",
)
@click.option(
    "--open",
    "open_dir",
    type=str,
    help="Show a saved run directory (replays its events.jsonl); with --batch, print its table.",
)
@config_options
@click.pass_context
def cli(
    ctx: click.Context,
    batch: bool,
    out: str | None,
    as_json: bool,
    show_diagnostics: bool,
    quiet: bool,
    threads: int | None,
    seeds: int,
    open_dir: str | None,
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
    request_threads(threads)  # applied where PyTorch runs: the engine process, batch mode
    ctx.obj = {"config": config, "open_dir": open_dir}
    if ctx.invoked_subcommand is not None:
        return 0
    if batch:
        if open_dir:
            return _print_saved(open_dir, as_json, show_diagnostics)
        from .batch import run_batch

        return run_batch(config, out, as_json, show_diagnostics, quiet, seeds, threads)
    from .app import create_app

    create_app(config=config, open_dir=open_dir).run()
    # Unloading torch at interpreter exit takes 0.5-0.8 s. Once the training loop (stopped by
    # the quit) has written its last event, leave at once.
    from .runner import SLOT

    SLOT.wait_idle(timeout=3.0)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@cli.command()
@click.option("--host", default="localhost", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> int:
    """Serve the lab to a browser on HOST:PORT (optional extra: pip install 'actlab[serve]')."""
    try:
        from textual_serve.server import Server
    except ImportError:
        raise click.ClickException(
            "serve needs the textual-serve package: pip install 'actlab[serve]'"
        ) from None
    config: RunConfig = ctx.obj["config"]
    args = " ".join(f"--{k.replace('_', '-')} {_shell(v)}" for k, v in _changed(config).items())
    command = f"{sys.executable} -m actlab.tui {args}".strip()
    Server(command, host=host, port=port, title="actlab").serve()
    return 0


def _changed(config: RunConfig) -> dict[str, Any]:
    base = RunConfig().to_dict()
    return {k: v for k, v in config.to_dict().items() if v != base[k] and v is not None and k != "fallback"}


def _shell(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v)
    return str(v)


def _print_saved(directory: str, as_json: bool, show_diagnostics: bool) -> int:
    summary = replay(directory, lambda e: None)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(threshold_table(summary))
        if show_diagnostics:
            click.echo("\n" + diagnostics_table(summary))
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
