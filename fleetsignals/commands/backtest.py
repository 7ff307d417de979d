"""`fleetsignals backtest`."""

from __future__ import annotations

import sys

import click

from fleetsignals.alerts.backtest import run_backtest
from fleetsignals.alerts.records import episodes, json_line, labels_text, table, value_text
from fleetsignals.cli_env import Env, pass_env
from fleetsignals.errors import FleetsignalsError
from fleetsignals.timeutil import format_time, parse_duration, parse_time


@click.command()
@click.option("--start", required=True, metavar="TIME", help="First evaluation time (ISO-8601).")
@click.option("--end", required=True, metavar="TIME", help="Last evaluation time (inclusive).")
@click.option(
    "--every",
    default="5m",
    show_default=True,
    metavar="DURATION",
    help="Step between evaluations: a number and a unit (ms, s, m, h, d, w), e.g. 30s, 5m, 1h30m.",
)
@click.option(
    "--signal", "signals", multiple=True, metavar="NAME", help="Only these signals (repeatable)."
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@pass_env
def command(env: Env, start: str, end: str, every: str, signals: tuple[str, ...], fmt: str) -> None:
    """Replay signal evaluation at each step with fresh state; notifies nobody.

    Evaluates every signal at START, START+EVERY, ... up to END on the current
    snapshot, with the same engine and alert lifecycle as `evaluate` but state
    kept in memory: what live evaluation would have shown at each time.
    `--format json` prints one line per pending or firing instance per step;
    the table lists each signal's firing episodes with their start and end, the
    episode's highest value (MAX), the step that reached it (MAX_AT) and that
    step's summary. NULL is shown as NULL, control characters as escapes (\\n).
    """
    result = run_backtest(
        env.home,
        env.config,
        parse_time(start),
        parse_time(end),
        parse_duration(every),
        signals or None,
        progress=sys.stderr.isatty(),
    )
    if fmt == "json":
        for record in result.records:
            click.echo(json_line(record))
    else:
        click.echo(_summary(result))
    for problem in result.problems:
        click.echo(f"signal failed: {problem}", err=True)
    if result.problems:
        raise FleetsignalsError(
            f"{len(result.problems)} signal(s) failed (see above); the others were replayed"
        )


def _summary(result) -> str:
    steps = result.steps
    found = episodes(result.records, steps)
    head = (
        f"backtest {format_time(steps[0])} .. {format_time(steps[-1])}: "
        f"{len(steps)} steps, {len(result.seconds)} signals, "
        f"{len(found)} firing episodes"
    )
    if not found:
        return head
    rows = [
        [
            e["signal"],
            e["severity"],
            labels_text(e["labels"]),
            format_time(e["start"]),
            format_time(e["end"]) if e["end"] else "still firing",
            str(e["steps"]),
            value_text(e["max_value"]),
            format_time(e["max_at"]),
            e["summary"],
        ]
        for e in found
    ]
    # MAX_AT and SUMMARY are the step that reached MAX: all three describe one moment.
    headers = ["SIGNAL", "SEVERITY", "LABELS", "START", "END", "STEPS", "MAX", "MAX_AT", "SUMMARY"]
    return head + "\n\n" + table(headers, rows)
