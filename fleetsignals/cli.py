"""The ``fleetsignals`` command line: one group, one module per command in ``commands/``."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from fleetsignals import __version__
from fleetsignals.cli_env import Env
from fleetsignals.commands import (
    backtest,
    build,
    demo,
    evaluate,
    generate,
    ingest,
    label,
    outbox,
    receive,
    report,
    retain,
    run,
    sql,
    state,
)
from fleetsignals.errors import FleetsignalsError

# Command name -> its click command (each module in commands/ defines one `command`).
COMMANDS = {
    "ingest": ingest.command,
    "label": label.command,
    "build": build.command,
    "sql": sql.command,
    "evaluate": evaluate.command,
    "backtest": backtest.command,
    "state": state.command,
    "outbox": outbox.command,
    "run": run.command,
    "receive": receive.command,
    "retain": retain.command,
    "generate": generate.command,
    "report": report.command,
    "demo": demo.command,
}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fleetsignals")
@click.option(
    "--home",
    envvar="FLEETSIGNALS_HOME",
    metavar="DIR",
    help="Data home: lake, warehouse, quarantine, alert state. [env FLEETSIGNALS_HOME; default ./warehouse]",
)
@click.option(
    "--config",
    envvar="FLEETSIGNALS_CONFIG",
    metavar="FILE",
    help="Config file. [env FLEETSIGNALS_CONFIG; default ./fleetsignals.yml if present]",
)
@click.pass_context
def cli(ctx: click.Context, home: str | None, config: str | None) -> None:
    """Watch a fleet of LLM agents: OTLP traces in, SQL signals and alerts out.

    Typical flow: `ingest` trace dumps into the Parquet lake, `build` the
    warehouse, `evaluate` or `backtest` signals, `sql` for ad-hoc questions,
    or `run` to schedule it all. `demo` shows everything on a synthetic fleet.
    """
    ctx.obj = Env(home, config)


def _set_env(field: str) -> Callable[[click.Context, click.Parameter, str | None], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is not None:
            setattr(ctx.find_object(Env), field, value)

    return callback


def _home_and_config_options() -> list[click.Option]:
    """`--home` and `--config` after the command name too; they win over the group's."""
    return [
        click.Option(
            ["--home"],
            metavar="DIR",
            expose_value=False,
            callback=_set_env("home_arg"),
            help="Data home (also before the command, or $FLEETSIGNALS_HOME; default ./warehouse).",
        ),
        click.Option(
            ["--config"],
            metavar="FILE",
            expose_value=False,
            callback=_set_env("config_arg"),
            help="Config file (also before the command, or $FLEETSIGNALS_CONFIG).",
        ),
    ]


for _name, _command in COMMANDS.items():
    # A group's subcommands take them too: `state show --home DIR`.
    for _each in [_command, *getattr(_command, "commands", {}).values()]:
        _each.params.extend(_home_and_config_options())
    cli.add_command(_command, _name)


def main() -> None:
    """Entry point: user errors become one line on stderr and exit status 1."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except FleetsignalsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
