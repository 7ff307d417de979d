"""`fleetsignals outbox`."""

from __future__ import annotations

import json
import sys

import click

from fleetsignals.alerts.outbox import SinkQueue, deliver, queues, retry_now
from fleetsignals.alerts.records import table
from fleetsignals.alerts.settings import AlertSettings
from fleetsignals.alerts.sinks import build_sinks
from fleetsignals.cells import cell_text
from fleetsignals.cli_env import Env, pass_env
from fleetsignals.timeutil import format_time

# Exit status when notifications are still queued after --retry (as `evaluate`'s).
UNDELIVERED = 3


@click.command()
@click.option(
    "--retry",
    is_flag=True,
    help="Send every queued notification now, whatever its backoff, then show the queues.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@pass_env
def command(env: Env, retry: bool, fmt: str) -> None:
    """Show the notification outbox per sink; --retry sends what is queued now.

    One row per sink under `notify:` (and per sink no longer configured that
    still has notifications queued): its name and address (scheme://host[:port],
    never a path, token or credential), notifications queued, set aside
    (rejected by the receiver as malformed: never retried), and delivered in the
    last 7 days, the oldest queued one, when the next attempt is due, and the
    last error. Nothing retries in the background: queued notifications are
    sent by the next `evaluate`, `outbox --retry` or `run` cycle, once their
    backoff (alerts.retry_initial doubling up to alerts.retry_max) has passed.

    Exit status with --retry: 3 if notifications are still queued afterwards.
    """
    settings = AlertSettings.from_config(env.config)
    sinks = build_sinks(env.config["notify"], settings.send_timeout)
    report = None
    if retry and sinks:
        retry_now(env.home, sinks)
        report = deliver(env.home, sinks, settings.retry_initial, settings.retry_max)
        for error in report.errors:
            click.echo(f"warning: notification not delivered: {error}", err=True)
        click.echo(
            f"delivered {report.delivered}, failed {report.failed}, set aside {report.dead}",
            err=True,
        )
    found = queues(env.home, sinks)
    if fmt == "json":
        for entry in found:
            click.echo(json.dumps(_json(entry)))
    elif found:
        click.echo(_table(found))
    else:
        click.echo("no sinks configured (notify: in the config) and nothing queued")
    if report is not None and report.waiting:
        click.echo(
            f"error: {report.waiting} notification(s) still queued: the sink is still failing",
            err=True,
        )
        sys.exit(UNDELIVERED)


def _time(moment) -> str | None:
    return format_time(moment) if moment else None


def _json(entry: SinkQueue) -> dict:
    return {
        "sink": entry.sink,
        "address": entry.address,
        "queued": entry.queued,
        "dead": entry.dead,
        "delivered": entry.delivered,
        "oldest_queued_at": _time(entry.oldest_queued_at),
        "next_attempt_at": _time(entry.next_attempt_at),
        "attempts": entry.attempts,
        "last_error": entry.last_error,
    }


def _table(found: list[SinkQueue]) -> str:
    headers = ["SINK", "ADDRESS", "QUEUED", "SET_ASIDE", "DELIVERED", "OLDEST_QUEUED"]
    headers += ["NEXT_ATTEMPT", "ATTEMPTS", "LAST_ERROR"]
    rows = [
        [
            e.sink,
            e.address,
            str(e.queued),
            str(e.dead),
            str(e.delivered),
            cell_text(e.oldest_queued_at),
            cell_text(e.next_attempt_at),
            str(e.attempts),
            cell_text(e.last_error),
        ]
        for e in found
    ]
    return table(headers, rows, cut="LAST_ERROR", limit=100)
