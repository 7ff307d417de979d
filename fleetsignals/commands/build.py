"""`fleetsignals build`."""

from __future__ import annotations

import click

from fleetsignals.cli_env import Env, pass_env
from fleetsignals.errors import FleetsignalsError


@click.command()
@click.option("--full-refresh", is_flag=True, help="Rebuild every model from all history.")
@pass_env
def command(env: Env, full_refresh) -> None:
    """Build the warehouse (runs the dbt project)."""
    raise FleetsignalsError("`build` is not built yet")
