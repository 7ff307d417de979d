"""`fleetsignals retain`."""

from __future__ import annotations

import click

from fleetsignals.cli_env import Env, pass_env
from fleetsignals.errors import FleetsignalsError


@click.command()
@click.option("--at", "at", metavar="TIME", help="Decide as of TIME (default now).")
@click.option("--dry-run", is_flag=True, help="Print what would be kept and saved; change nothing.")
@pass_env
def command(env: Env, at, dry_run) -> None:
    """Tail-based sampling: prune the spans of healthy runs, keep every run that matters."""
    raise FleetsignalsError("`retain` is not built yet")
