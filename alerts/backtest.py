"""Backtest: replay the live engine at each step over as-of data, with fresh state, silently.

The same functions as live evaluation (``evaluate_signal``, ``advance``,
``is_due``) run at ``start, start + every, ... <= end`` on one read-only
connection, with state held in memory and no sink called. Because signals
see only what had ended by ``$eval_at``, each step gives what live
evaluation at that time would have given.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fleetsignals.alerts.definitions import Signal, SignalProblem, load_signals
from fleetsignals.alerts.engine import is_due
from fleetsignals.alerts.evaluation import Sample, evaluate_signal
from fleetsignals.alerts.lifecycle import Instance, advance, template_problem
from fleetsignals.alerts.records import Record, active_records
from fleetsignals.alerts.settings import AlertSettings
from fleetsignals.config import Config
from fleetsignals.errors import FleetsignalsError
from fleetsignals.home import Home
from fleetsignals.sandbox import connect_sandbox

log = logging.getLogger(__name__)


@dataclass
class BacktestResult:
    steps: list[datetime]
    records: list[Record] = field(default_factory=list)
    problems: list[SignalProblem] = field(default_factory=list)
    # Signal -> total query seconds, for the per-signal cost of a backtest.
    seconds: dict[str, float] = field(default_factory=dict)
    # The signals replayed, and every row they returned with all its numeric columns
    # (signal, step, row): retention reads a group alert's thresholds from them, which
    # the records (one value each) do not keep.
    signals: list[Signal] = field(default_factory=list)
    samples: list[tuple[str, datetime, Sample]] = field(default_factory=list)


def step_times(start: datetime, end: datetime, every: timedelta) -> list[datetime]:
    if every <= timedelta(0):
        raise FleetsignalsError("--every must be a positive duration such as 5m")
    if end < start:
        raise FleetsignalsError("--end is before --start: give a start time before the end time")
    steps, moment = [], start
    while moment <= end:
        steps.append(moment)
        moment += every
    return steps


def run_backtest(
    home: Home,
    config: Config,
    start: datetime,
    end: datetime,
    every: timedelta,
    signals: list[str] | tuple[str, ...] | None = None,
    progress: bool = False,
) -> BacktestResult:
    """Replay every step; records hold the pending and firing instances at each step."""
    settings = AlertSettings.from_config(config)
    result = BacktestResult(step_times(start, end, every))
    with connect_sandbox(home, config, as_of=True) as con:
        loaded, result.problems = load_signals(
            config["signal_dirs"], con, signals, settings.query_timeout
        )
        result.signals = loaded
        states: dict[str, dict[str, Instance]] = {s.name: {} for s in loaded}
        last: dict[str, datetime] = {}
        # A signal that failed (or timed out) is reported once and not run again: at 145
        # steps a 2-minute timeout would otherwise cost hours, and the error rarely heals.
        failed: set[str] = set()
        started = time.perf_counter()
        for number, eval_at in enumerate(result.steps, start=1):
            for signal in loaded:
                if signal.name in failed:
                    continue
                if is_due(signal, last.get(signal.name), eval_at, every):
                    evaluation = evaluate_signal(
                        con, signal, eval_at, settings.query_timeout, settings.instance_limit
                    )
                    result.seconds[signal.name] = (
                        result.seconds.get(signal.name, 0.0) + evaluation.seconds
                    )
                    if evaluation.error:
                        failed.add(signal.name)
                        result.problems.append(
                            SignalProblem(
                                signal.name,
                                signal.path,
                                f"at {eval_at}: {evaluation.error} (not evaluated at later steps)",
                            )
                        )
                        continue
                    result.samples += [(signal.name, eval_at, s) for s in evaluation.samples]
                    states[signal.name], _ = advance(
                        signal,
                        states[signal.name],
                        evaluation.samples,
                        eval_at,
                        settings.repeat_interval,
                        settings.resolved_retention,
                        every,
                        settings.for_grace_period,
                    )
                    last[signal.name] = eval_at
                    broken = template_problem(signal, states[signal.name].values())
                    if broken and all(p.name != signal.name for p in result.problems):
                        result.problems.append(SignalProblem(signal.name, signal.path, broken))
                result.records += active_records(signal, states[signal.name], eval_at)
            if progress:
                _show_progress(number, len(result.steps), time.perf_counter() - started)
        if progress:
            print("", file=sys.stderr)
    return result


def _show_progress(done: int, total: int, seconds: float) -> None:
    print(f"\rbacktest: step {done}/{total} ({seconds:.1f}s)", end="", file=sys.stderr, flush=True)


def backtest(
    home: Home,
    config: Config,
    start: datetime,
    end: datetime,
    every: timedelta = timedelta(minutes=5),
    signals: list[str] | tuple[str, ...] | None = None,
) -> list[Record]:
    """Python API: the pending and firing instance records at each step (``eval_at`` as a
    naive UTC datetime). Signals that fail to load or evaluate are logged and skipped."""
    result = run_backtest(home, config, start, end, every, signals)
    for problem in result.problems:
        log.error("%s", problem)
    return result.records
