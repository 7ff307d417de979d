"""`fleetsignals report`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fleetsignals.cli_env import Env, pass_env
from fleetsignals.timeutil import parse_time


@click.command()
@click.option("--start", metavar="TIME", help="Earliest run start to include (ISO-8601 UTC).")
@click.option("--end", metavar="TIME", help="Last run start to include (ISO-8601 UTC).")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="HTML file to write (its directory is created if needed).",
)
@pass_env
def command(env: Env, start: str | None, end: str | None, out: str) -> None:
    """Write one self-contained HTML report of the fleet (works offline).

    Sections: fleet overview (runs, failure rate and cost per hour), alerts and
    when they fired, per-agent rolling P95 cost and P99 depth with alert periods
    shaded, cost attribution by tenant, prompt variant, workflow and tool, the
    costliest and stuck runs with their tool-call sequences, fingerprint
    distance, retention savings.

    The window defaults to the data's range, capped at its last 24 hours. Alert
    periods come from replaying every signal over the window (as `backtest`).
    Reads the current snapshot: run `fleetsignals build` first. Prints the path.
    """
    from fleetsignals.report import write_report

    written = write_report(
        env.home,
        env.config,
        Path(out),
        start=parse_time(start) if start else None,
        end=parse_time(end) if end else None,
        progress=sys.stderr.isatty(),
    )
    click.echo(str(written))
