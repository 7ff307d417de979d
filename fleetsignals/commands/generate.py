"""`fleetsignals generate`."""

from __future__ import annotations

import click

from fleetsignals.cli_env import Env, pass_env
from fleetsignals.errors import FleetsignalsError


@click.command()
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory for the dumps and ground truth.",
)
@click.option("--hours", default=6.0, show_default=True, type=float)
@click.option("--runs-per-minute", default=20.0, show_default=True, type=float)
@click.option("--seed", default=7, show_default=True, type=int)
@pass_env
def command(env: Env, out, hours, runs_per_minute, seed) -> None:
    """Write a synthetic fleet with labelled incidents, as the Collector's file exporter would."""
    raise FleetsignalsError("`generate` is not built yet")
