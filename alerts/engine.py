"""Live evaluation: signals on the current snapshot, persisted alert state, notifications.

Used by `fleetsignals evaluate` (every selected signal, now or at --at) and by
the scheduler (only signals that are due). Each signal is queried outside any
lock, then its state change and the notifications it causes commit in one
SQLite transaction; a signal that fails changes nothing and is reported.
"""

from __future__ import annotations

import logging
import sqlite3
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from fleetsignals.alerts.definitions import Signal, SignalProblem, load_signals
from fleetsignals.alerts.evaluation import evaluate_signal
from fleetsignals.alerts.lifecycle import advance, template_problem
from fleetsignals.alerts.outbox import DeliveryReport, deliver, enqueue
from fleetsignals.alerts.records import Record, active_records
from fleetsignals.alerts.settings import AlertSettings
from fleetsignals.alerts.sinks import Batch, Sink, build_sinks
from fleetsignals.alerts.state import (
    copy_state,
    forget_signals,
    last_evaluations,
    load_instances,
    open_state,
    record_evaluation,
    record_history,
    reset_signals,
    save_instances,
    transaction,
)
from fleetsignals.config import Config
from fleetsignals.home import Home
from fleetsignals.sandbox import connect_sandbox
from fleetsignals.timeutil import format_time, parse_time

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What one live evaluation did."""

    eval_at: datetime
    records: list[Record] = field(default_factory=list)
    problems: list[SignalProblem] = field(default_factory=list)
    evaluated: list[str] = field(default_factory=list)
    notices: int = 0
    delivery: DeliveryReport | None = None
    # Dry run: signals whose state was later than eval_at, so they started from no state.
    fresh: list[str] = field(default_factory=list)


def is_due(signal: Signal, last: datetime | None, eval_at: datetime, cycle: timedelta) -> bool:
    """Whether a signal evaluated at ``last`` is due again at ``eval_at``, when evaluations
    happen every ``cycle`` (scheduler.build_every live, the step in a backtest).

    Due once ``every`` has passed, less half a cycle of slack: cycles that start a little
    late or early (builds take varying time) neither skip nor double an evaluation, and a
    signal with ``every: 15m`` on a 5-minute cycle runs every third cycle.
    """
    if last is None:
        return True
    return eval_at - last >= signal.every - min(signal.every, cycle) / 2


def _later_state(
    signal: Signal, previous: datetime | None, eval_at: datetime
) -> SignalProblem | None:
    if previous is None or eval_at >= previous:
        return None
    return SignalProblem(
        signal.name,
        signal.path,
        f"its alert state is already at {format_time(previous)}, later than "
        f"{format_time(eval_at)} (state only moves forward): look at the past with "
        f"`fleetsignals evaluate --at {format_time(eval_at)} --dry-run` or `fleetsignals "
        f"backtest`, or start its state over with `fleetsignals state reset --signal "
        f"{signal.name}`",
    )


def evaluate_live(
    home: Home,
    config: Config,
    at: datetime | None = None,
    names: list[str] | tuple[str, ...] | None = None,
    due_only: bool = False,
    notify: bool = True,
    dry_run: bool = False,
) -> Outcome:
    """Evaluate signals at ``at`` (default now), update state, enqueue and deliver notices.

    ``dry_run``: the same evaluation on a scratch copy of the state, thrown away after;
    nothing is written under HOME and nobody is notified. A signal whose state is later
    than ``at`` starts from no state in the copy (as a backtest's first step) and is
    listed in ``Outcome.fresh``.
    """
    settings = AlertSettings.from_config(config)
    sinks = build_sinks(config["notify"], settings.send_timeout)
    eval_at = at or parse_time("now").replace(microsecond=0)
    if dry_run:
        with tempfile.TemporaryDirectory(prefix="fleetsignals-dry-run-") as scratch:
            path = Path(scratch) / "state.sqlite"
            copy_state(home, path)
            return _evaluate(home, config, settings, [], eval_at, names, False, path)
    outcome = _evaluate(home, config, settings, sinks, eval_at, names, due_only, None)
    if notify and sinks:
        outcome.delivery = deliver(home, sinks, settings.retry_initial, settings.retry_max)
    return outcome


def _evaluate(
    home: Home,
    config: Config,
    settings: AlertSettings,
    sinks: list[Sink],
    eval_at: datetime,
    names: list[str] | tuple[str, ...] | None,
    due_only: bool,
    scratch: Path | None,
) -> Outcome:
    outcome = Outcome(eval_at)
    with connect_sandbox(home, config, as_of=True) as con:
        signals, outcome.problems = load_signals(
            config["signal_dirs"], con, names, settings.query_timeout
        )
        with open_state(home, scratch) as state:
            if scratch is not None:
                outcome.fresh = _start_over_later_state(state, signals, eval_at)
            if due_only and not names:
                # Only the scheduler tidies up: a one-off `evaluate` with another config
                # must not drop the state of signals it does not know.
                # A removed signal's alerts stop being sent; Alertmanager lets them expire.
                keep = {s.name for s in signals} | {p.name for p in outcome.problems}
                with transaction(state):
                    for gone in forget_signals(state, keep):
                        log.warning("signal %s no longer exists: its alert state is dropped", gone)
            last = last_evaluations(state)
            for signal in signals:
                if due_only and not is_due(signal, last.get(signal.name), eval_at, settings.cycle):
                    continue
                problem = _evaluate_one(con, state, signal, eval_at, last, settings, sinks, outcome)
                if problem:
                    outcome.problems.append(problem)
    return outcome


def _start_over_later_state(
    state: sqlite3.Connection, signals: list[Signal], eval_at: datetime
) -> list[str]:
    """In a scratch state: drop the state of signals evaluated after ``eval_at``."""
    last = last_evaluations(state)
    later = [s.name for s in signals if s.name in last and last[s.name] > eval_at]
    with transaction(state):
        reset_signals(state, later)
    return later


def _evaluate_one(
    con: duckdb.DuckDBPyConnection,
    state: sqlite3.Connection,
    signal: Signal,
    eval_at: datetime,
    last: dict[str, datetime],
    settings: AlertSettings,
    sinks: list[Sink],
    outcome: Outcome,
) -> SignalProblem | None:
    stale = _later_state(signal, last.get(signal.name), eval_at)
    if stale:
        return stale
    evaluation = evaluate_signal(
        con, signal, eval_at, settings.query_timeout, settings.instance_limit
    )
    if evaluation.error:
        with transaction(state):
            record_evaluation(state, signal.name, eval_at, evaluation.error)
        return SignalProblem(signal.name, signal.path, evaluation.error)
    with transaction(state):
        # Another process (`run` beside `evaluate`) may have moved the state on meanwhile.
        newer = _later_state(signal, last_evaluations(state).get(signal.name), eval_at)
        if newer:
            return newer
        instances, notices = advance(
            signal,
            load_instances(state, signal.name),
            evaluation.samples,
            eval_at,
            settings.repeat_interval,
            settings.resolved_retention,
            settings.cycle,
            settings.for_grace_period,
        )
        save_instances(state, signal.name, instances)
        record_evaluation(state, signal.name, eval_at, None)
        record_history(state, notices, eval_at)
        batch = Batch(
            signal, eval_at, notices, list(instances.values()), settings.valid_for(signal.every)
        )
        enqueue(state, sinks, batch, parse_time("now"))
    for notice in notices:
        log.info(
            "%s %s %s value=%s",
            notice.kind,
            signal.name,
            notice.instance.labels,
            notice.instance.value,
        )
    outcome.evaluated.append(signal.name)
    outcome.notices += len(notices)
    outcome.records += active_records(signal, instances, eval_at)
    broken = template_problem(signal, instances.values())
    return SignalProblem(signal.name, signal.path, broken) if broken else None
