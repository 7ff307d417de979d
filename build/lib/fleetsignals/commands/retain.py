"""`fleetsignals retain`."""

from __future__ import annotations

import sys

import click

from fleetsignals.cli_env import Env, pass_env
from fleetsignals.timeutil import parse_time


@click.command()
@click.option("--at", "at", metavar="TIME", help="Decide as of TIME (ISO-8601 UTC; default now).")
@click.option("--dry-run", is_flag=True, help="Print what would be kept and saved; change nothing.")
@pass_env
def command(env: Env, at: str | None, dry_run: bool) -> None:
    """Tail-based sampling: prune the spans of healthy runs, keep every run that matters.

    Decides every run that ended more than `retention.grace` (default 1h) before
    TIME: all spans stay for runs that failed or timed out, the top 1 % by cost
    per agent and hour, and runs a signal flagged; a deterministic 10 % sample of
    the rest stays; the other runs' spans are pruned. fct_runs keeps every run
    with retention_reason and sample_weight. Closed partitions are compacted to
    one file each. Idempotent and safe to kill; prints kept runs and spans per
    reason and the bytes saved. Needs a built warehouse (`fleetsignals build`).
    """
    from fleetsignals.retention import retain

    summary = retain(
        env.home, env.config, parse_time(at), dry_run=dry_run, progress=sys.stderr.isatty()
    )
    for line in summary.lines():
        click.echo(line)
