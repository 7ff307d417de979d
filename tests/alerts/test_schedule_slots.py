"""When a signal is due: the same rule live (per scheduler cycle) and in backtest (per step)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from fleetsignals.alerts.backtest import run_backtest
from fleetsignals.alerts.definitions import Signal
from fleetsignals.alerts.engine import is_due
from tests.fixtures.alertfixtures import COSTLY_SETTINGS, COSTLY_SQL, T0, write_signal

BASE = datetime(2026, 11, 20, 12, 0)


def test_due_tolerates_jitter_without_skipping_or_doubling() -> None:
    cycle = timedelta(minutes=5)
    signal = Signal("s", Path("s.sql"), "select 1 as value", every=timedelta(minutes=5))
    assert is_due(signal, None, BASE, cycle)
    # A build that took longer last time makes this cycle's evaluation come early: still due.
    assert is_due(
        signal, BASE + timedelta(seconds=20), BASE + timedelta(minutes=5, seconds=2), cycle
    )
    assert is_due(signal, BASE, BASE + timedelta(minutes=4, seconds=30), cycle)
    # Two evaluations in quick succession (a cycle that ran long, then one on time): once.
    assert not is_due(signal, BASE, BASE + timedelta(seconds=40), cycle)
    slow = Signal("s", Path("s.sql"), "select 1 as value", every=timedelta(minutes=15))
    due, last = [], None
    for step in range(12):
        at = BASE + timedelta(minutes=5 * step, seconds=(7 * step) % 11)  # jittery cycles
        if is_due(slow, last, at, cycle):
            due.append(step)
            last = at
    assert due == [0, 3, 6, 9]


def test_backtest_evaluates_slow_signals_on_their_slots(
    home, snapshot, signal_dir: Path, make_config
) -> None:
    # Runs every 15 minutes; between evaluations its instances keep their state.
    write_signal(signal_dir, "costly", COSTLY_SQL, {**COSTLY_SETTINGS, "every": "15m"})
    _, config = make_config()
    result = run_backtest(
        home, config, T0 + timedelta(minutes=240), T0 + timedelta(minutes=270), timedelta(minutes=5)
    )
    firing = [r["eval_at"] - T0 for r in result.records if r["state"] == "firing"]
    # Evaluated at 04:00, 04:15, 04:30: it fires from 04:10 at 5m steps, so first at 04:15.
    assert firing == [timedelta(minutes=m) for m in (255, 260, 265, 270)]
