"""`fleetsignals backtest`."""

from __future__ import annotations

import click

from fleetsignals.cli_env import Env, pass_env
from fleetsignals.errors import FleetsignalsError


@click.command()
@click.option("--start", required=True, metavar="TIME")
@click.option("--end", required=True, metavar="TIME")
@click.option("--every", default="5m", show_default=True, metavar="DURATION")
@click.option(
    "--signal", "signals", multiple=True, metavar="NAME", help="Only these signals (repeatable)."
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@pass_env
def command(env: Env, start, end, every, signals, fmt) -> None:
    """Replay signal evaluation at each step with fresh state; notifies nobody."""
    raise FleetsignalsError("`backtest` is not built yet")
