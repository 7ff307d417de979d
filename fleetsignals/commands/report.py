"""`fleetsignals report`."""

from __future__ import annotations

import click

from fleetsignals.cli_env import Env, pass_env
from fleetsignals.errors import FleetsignalsError


@click.command()
@click.option("--start", metavar="TIME")
@click.option("--end", metavar="TIME")
@click.option("--out", required=True, type=click.Path(dir_okay=False))
@pass_env
def command(env: Env, start, end, out) -> None:
    """Write one self-contained HTML report of the fleet (works offline)."""
    raise FleetsignalsError("`report` is not built yet")
