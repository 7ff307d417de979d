"""`fleetsignals ingest`."""

from __future__ import annotations

import click

from fleetsignals.cli_env import Env, pass_env
from fleetsignals.errors import FleetsignalsError


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@pass_env
def command(env: Env, paths) -> None:
    """Land OTLP/JSON trace files (or directories, recursively) in the Parquet lake."""
    raise FleetsignalsError("`ingest` is not built yet")
