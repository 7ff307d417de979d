"""`fleetsignals demo`."""

from __future__ import annotations

import click

from fleetsignals.cli_env import Env, pass_env
from fleetsignals.errors import FleetsignalsError


@click.command()
@pass_env
def command(env: Env) -> None:
    """Generate a fleet, ingest, build, backtest, retain, report, and show what fired."""
    raise FleetsignalsError("`demo` is not built yet")
