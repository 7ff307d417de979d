"""`fleetsignals run`."""

from __future__ import annotations

import click

from fleetsignals.cli_env import Env, pass_env
from fleetsignals.errors import FleetsignalsError


@click.command()
@pass_env
def command(env: Env) -> None:
    """Run the scheduler: ingest the inbox, build, evaluate and retain on intervals."""
    raise FleetsignalsError("`run` is not built yet")
