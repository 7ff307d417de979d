"""`fleetsignals evaluate`."""

from __future__ import annotations

import sys

import click

from fleetsignals.alerts.engine import evaluate_live
from fleetsignals.alerts.outbox import DeliveryReport
from fleetsignals.alerts.records import instances_table, json_line
from fleetsignals.cli_env import Env, pass_env
from fleetsignals.errors import FleetsignalsError
from fleetsignals.timeutil import format_time, parse_time

# Exit status when every signal was evaluated but notifications wait in the outbox.
UNDELIVERED = 3


@click.command()
@click.option("--at", "at", metavar="TIME", help="Evaluation time (ISO-8601, default now).")
@click.option(
    "--signal", "signals", multiple=True, metavar="NAME", help="Only these signals (repeatable)."
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Evaluate on a scratch copy of the alert state: write nothing, notify nobody.",
)
@pass_env
def command(env: Env, at: str | None, signals: tuple[str, ...], fmt: str, dry_run: bool) -> None:
    """Evaluate signals at TIME, update alert state, notify, print pending and firing alerts.

    Each signal runs on the current read-only snapshot with $eval_at = TIME.
    Alert state (pending/firing/resolved) persists under HOME/alerts; new
    firings, resolutions and repeats go to the sinks under `notify:` in the
    config, through a durable outbox. Nothing retries in the background: a
    notification a sink did not take stays queued until the next evaluate,
    `fleetsignals outbox --retry` or `fleetsignals run` cycle. JSON output is
    one line per instance.

    State only moves forward: a TIME earlier than a signal's last evaluation is
    refused for it. `--dry-run` evaluates any TIME on a scratch copy of the
    state (a signal whose state is later than TIME starts from no state, as in
    a backtest) and changes nothing: no state, no notifications. See and reset
    the state with `fleetsignals state show` and `fleetsignals state reset`.

    Exit status: 0; 1 if any signal failed (the others still run); 3 if every
    signal was evaluated but notifications are still queued or were set aside
    (see `fleetsignals outbox`).
    """
    moment = parse_time(at) if at else None
    outcome = evaluate_live(env.home, env.config, moment, signals or None, dry_run=dry_run)
    if outcome.fresh:
        click.echo(
            f"dry run: {', '.join(outcome.fresh)} evaluated from no state (their state is "
            f"later than {format_time(outcome.eval_at)})",
            err=True,
        )
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
    undelivered = _report_delivery(outcome.delivery)
    for problem in outcome.problems:
        click.echo(f"signal failed: {problem}", err=True)
    if outcome.problems:
        raise FleetsignalsError(
            f"{len(outcome.problems)} signal(s) failed (see above); the others were evaluated"
        )
    if undelivered:
        click.echo(f"error: {undelivered}", err=True)
        sys.exit(UNDELIVERED)


def _report_delivery(delivery: DeliveryReport | None) -> str | None:
    """Print each failed delivery; the one-line reason to exit with UNDELIVERED, if any."""
    if delivery is None:
        return None
    for error in delivery.errors:
        click.echo(f"warning: notification not delivered: {error}", err=True)
    if not (delivery.failed or delivery.dead or delivery.waiting):
        return None
    aside = f", {delivery.dead} set aside as malformed" if delivery.dead else ""
    return (
        f"{delivery.waiting} notification(s) still queued{aside}: "
        "see `fleetsignals outbox`, retry with `fleetsignals outbox --retry`"
    )
