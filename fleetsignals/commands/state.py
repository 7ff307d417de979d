"""`fleetsignals state show` and `fleetsignals state reset`."""

from __future__ import annotations

import json
import sys

import click

from fleetsignals.alerts.lifecycle import FIRING, PENDING, RESOLVED, Instance, record_labels
from fleetsignals.alerts.records import labels_text, table, value_text
from fleetsignals.alerts.state import (
    evaluation_rows,
    load_instances,
    open_state,
    reset_signals,
    signals_with_state,
    state_path,
    transaction,
)
from fleetsignals.cells import cell_text
from fleetsignals.cli_env import Env, pass_env
from fleetsignals.errors import FleetsignalsError
from fleetsignals.timeutil import format_time

_ORDER = {FIRING: 0, PENDING: 1, RESOLVED: 2}


@click.group()
def command() -> None:
    """Inspect or reset the persisted alert state (HOME/alerts/state.sqlite).

    `evaluate` and `run` keep each signal's alert instances (pending, firing,
    resolved) and the time of its last evaluation; state only moves forward, so
    after an evaluation at T a signal cannot be evaluated at an earlier time.
    `state show` lists it; `state reset` forgets it, so the signal's next
    evaluation starts afresh (`evaluate --dry-run` looks at any time without
    touching it).
    """


def _since(instance: Instance):
    if instance.state == FIRING:
        return instance.fired_at
    if instance.state == RESOLVED:
        return instance.resolved_at
    return instance.active_at


def _instance_json(instance: Instance) -> dict:
    return {
        "signal": instance.signal,
        "state": instance.state,
        "since": format_time(_since(instance)),
        "active_at": format_time(instance.active_at),
        "labels": record_labels(instance) or instance.labels,
        "value": instance.value,
        "last_eval_at": format_time(instance.last_eval_at),
        "fingerprint": instance.key,
    }


@command.command("show")
@click.option(
    "--signal", "signals", multiple=True, metavar="NAME", help="Only these signals (repeatable)."
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@pass_env
def show(env: Env, signals: tuple[str, ...], fmt: str) -> None:
    """List each signal's last evaluation and its alert instances.

    First each signal with state: when it was last evaluated successfully
    (LAST_EVAL_AT: no `evaluate --at` may go earlier) and the error of its last
    attempt, if it failed. Then every instance: its state, since when (pending:
    active since; firing: firing since; resolved: resolved at), labels, value and
    the evaluation that last saw it. `--format json` prints one line per signal
    ({"signal", "last_eval_at", "error"}) then one per instance ({"signal",
    "state", "since", "active_at", "labels", "value", "last_eval_at",
    "fingerprint"}). Reads the state only: changes nothing.
    """
    if not state_path(env.home).exists():
        click.echo(f"no alert state yet under {env.home.alerts} (nothing was evaluated)")
        return
    with open_state(env.home) as con:
        evaluations = [e for e in evaluation_rows(con) if not signals or e[0] in signals]
        instances = [
            i
            for name in signals_with_state(con)
            if not signals or name in signals
            for i in load_instances(con, name).values()
        ]
    instances.sort(key=lambda i: (i.signal, _ORDER.get(i.state, 3), sorted(i.labels.items())))
    if fmt == "json":
        for name, last, error in evaluations:
            record = {"signal": name, "last_eval_at": format_time(last), "error": error}
            click.echo(json.dumps(record))
        for instance in instances:
            click.echo(json.dumps(_instance_json(instance)))
        return
    if not evaluations and not instances:
        click.echo("no alert state for " + (", ".join(signals) if signals else "any signal"))
        return
    rows = [[name, format_time(last), cell_text(error)] for name, last, error in evaluations]
    click.echo(table(["SIGNAL", "LAST_EVAL_AT", "LAST_ERROR"], rows, cut="LAST_ERROR"))
    if instances:
        rows = [
            [
                i.signal,
                i.state,
                format_time(_since(i)),
                labels_text(record_labels(i) or i.labels),
                value_text(i.value),
                format_time(i.last_eval_at),
            ]
            for i in instances
        ]
        headers = ["SIGNAL", "STATE", "SINCE", "LABELS", "VALUE", "LAST_SEEN_AT"]
        click.echo("\n" + table(headers, rows))
    else:
        click.echo("\nno alert instances")


@command.command("reset")
@click.option(
    "--signal", "signals", multiple=True, metavar="NAME", help="Reset these signals (repeatable)."
)
@click.option("--all", "everything", is_flag=True, help="Reset every signal's state.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed for --all).")
@pass_env
def reset(env: Env, signals: tuple[str, ...], everything: bool, yes: bool) -> None:
    """Forget the alert state of some signals (--signal NAME) or all (--all).

    Their instances and last evaluation time are dropped: the next `evaluate`
    (at any time) or `run` cycle starts them afresh, as a new signal. No
    resolution is sent for alerts that were firing: Alertmanager lets them
    expire (their endsAt), the other sinks hear nothing. Notifications already
    queued in the outbox are still delivered, and the alert history is kept.
    `--all` asks for confirmation unless `--yes` is given; with no terminal to
    ask, it needs `--yes`.
    """
    if everything == bool(signals):
        raise FleetsignalsError("give --signal NAME (repeatable) or --all, not both or neither")
    if not state_path(env.home).exists():
        click.echo(f"no alert state yet under {env.home.alerts}: nothing to reset")
        return
    with open_state(env.home) as con:
        known = signals_with_state(con)
    chosen = known if everything else [s for s in signals if s in known]
    for name in signals:
        if name not in known:
            click.echo(f"signal {name} has no alert state: nothing to reset", err=True)
    if not chosen:
        return
    if everything and not yes:
        if not sys.stdin.isatty():
            raise FleetsignalsError(
                f"--all resets the state of {len(chosen)} signal(s): add --yes to confirm"
            )
        click.confirm(f"Reset the alert state of {len(chosen)} signal(s)?", abort=True)
    with open_state(env.home) as con, transaction(con):
        dropped = reset_signals(con, chosen)
    for name, count in dropped.items():
        click.echo(f"reset {name}: {count} instance(s) dropped")
