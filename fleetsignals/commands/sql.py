"""`fleetsignals sql`."""

from __future__ import annotations

import click

from fleetsignals.cli_env import Env, pass_env
from fleetsignals.errors import FleetsignalsError


@click.command()
@click.argument("query")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@pass_env
def command(env: Env, query, fmt) -> None:
    """Run ad-hoc SQL on a consistent read-only snapshot of the warehouse."""
    raise FleetsignalsError("`sql` is not built yet")
