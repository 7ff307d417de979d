"""`fleetsignals evaluate`."""

from __future__ import annotations

import click

from fleetsignals.alerts.engine import evaluate_live
from fleetsignals.alerts.records import instances_table, json_line
from fleetsignals.cli_env import Env, pass_env
from fleetsignals.errors import FleetsignalsError
from fleetsignals.timeutil import format_time, parse_time


@click.command()
@click.option("--at", "at", metavar="TIME", help="Evaluation time (ISO-8601, default now).")
@click.option(
    "--signal", "signals", multiple=True, metavar="NAME", help="Only these signals (repeatable)."
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@pass_env
def command(env: Env, at: str | None, signals: tuple[str, ...], fmt: str) -> None:
    """Evaluate signals at TIME, update alert state, notify, print pending and firing alerts.

    Each signal runs on the current read-only snapshot with $eval_at = TIME.
    Alert state (pending/firing/resolved) persists under HOME/alerts; new
    firings, resolutions and repeats go to the sinks under `notify:` in the
    config, through a durable outbox (a sink that is down is retried on the
    next evaluate or by `fleetsignals run`). JSON output is one line per
    instance. Exit status 1 if any signal failed (the others still run).
    """
    moment = parse_time(at) if at else None
    outcome = evaluate_live(env.home, env.config, moment, signals or None)
    if fmt == "json":
        for record in outcome.records:
            click.echo(json_line(record))
    elif outcome.records:
        click.echo(instances_table(outcome.records))
    else:
        click.echo(
            f"no pending or firing alerts at {format_time(outcome.eval_at)} "
            f"({len(outcome.evaluated)} signals evaluated)"
        )
    if outcome.delivery is not None:
        for error in outcome.delivery.errors:
            click.echo(f"warning: notification not delivered yet: {error}", err=True)
    for problem in outcome.problems:
        click.echo(f"signal failed: {problem}", err=True)
    if outcome.problems:
        raise FleetsignalsError(
            f"{len(outcome.problems)} signal(s) failed (see above); the others were evaluated"
        )
