"""When each alert was firing over the report window: a backtest through the real engine.

The alert state under HOME/alerts only exists for the times `evaluate` or `run` were
live, and holds transitions, not every step. Signals see only what had ended by
their evaluation time, so replaying them (`alerts.backtest.run_backtest`, fresh state,
no notifications) gives the same instances live evaluation gave, and also covers
history that was ingested and built without the scheduler (a backfill, the demo).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fleetsignals.alerts.backtest import BacktestResult, run_backtest, step_times
from fleetsignals.alerts.records import episodes
from fleetsignals.config import Config
from fleetsignals.home import Home
from fleetsignals.report.window import Window

STEP = timedelta(minutes=5)


@dataclass
class Firing:
    signals: list[str] = field(default_factory=list)  # signals evaluated
    problems: list[str] = field(default_factory=list)  # signals that failed to load or run
    episodes: list[dict[str, Any]] = field(default_factory=list)
    steps: int = 0


def replay_steps(window: Window) -> list[datetime]:
    """The evaluation times the report replays: 5-minute steps on the clock grid in the window."""
    first = _ceil_to_step(window.start)
    return step_times(first, window.end, STEP) if first <= window.end else []


def replay_alerts(
    home: Home,
    config: Config,
    window: Window,
    progress: bool,
    backtest: BacktestResult | None = None,
) -> Firing:
    """Firing episodes of every signal at 5-minute steps on the clock grid in the window.

    ``backtest``: a backtest of every signal the caller already ran (the demo); used
    instead of replaying when its steps are exactly these, since the same steps from a
    fresh state give the same records. An episode's ``end`` is the first step it no
    longer fired; a still-firing one ends at the window's end (``open`` true).
    """
    steps = replay_steps(window)
    if not steps:
        return Firing()
    if backtest is not None and backtest.steps == steps:
        result = backtest
    else:
        result = run_backtest(home, config, steps[0], window.end, STEP, progress=progress)
    found = episodes(result.records, result.steps)
    for episode in found:
        episode["open"] = episode["end"] is None
        if episode["end"] is None:
            episode["end"] = window.end
    found.sort(key=lambda e: (e["start"], e["signal"]))
    evaluated = sorted(result.seconds)
    return Firing(evaluated, [str(p) for p in result.problems], found, len(result.steps))


def _ceil_to_step(moment: datetime) -> datetime:
    floor = moment.replace(minute=moment.minute - moment.minute % 5, second=0, microsecond=0)
    return floor if floor == moment else floor + STEP
