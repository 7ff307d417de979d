"""`fleetsignals evaluate`."""

from __future__ import annotations

import click

from fleetsignals.cli_env import Env, pass_env
from fleetsignals.errors import FleetsignalsError


@click.command()
@click.option("--at", "at", metavar="TIME", help="Evaluation time (ISO-8601, default now).")
@click.option(
    "--signal", "signals", multiple=True, metavar="NAME", help="Only these signals (repeatable)."
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@pass_env
def command(env: Env, at, signals, fmt) -> None:
    """Evaluate signals at TIME, update alert state, notify, print pending and firing alerts."""
    raise FleetsignalsError("`evaluate` is not built yet")
