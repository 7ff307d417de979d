"""The report reuses a backtest its caller already ran (the demo) only when it is the same one."""

from __future__ import annotations

from datetime import timedelta

from fleetsignals.alerts.backtest import BacktestResult, run_backtest
from fleetsignals.report import report_steps
from fleetsignals.report.firing import replay_alerts
from fleetsignals.report.window import resolve_window
from fleetsignals.snapshot import connect_snapshot
from tests.fixtures.reportfleet import Fleet

STEP = timedelta(minutes=5)


def _window(fleet: Fleet):
    with connect_snapshot(fleet.home) as con:
        return resolve_window(con, None, None)


def test_a_backtest_at_the_report_steps_gives_the_replay_s_episodes(fleet: Fleet) -> None:
    steps = report_steps(fleet.home)
    assert steps and steps[1] - steps[0] == STEP
    window = _window(fleet)
    backtest = run_backtest(fleet.home, fleet.config, steps[0], steps[-1], STEP)
    reused = replay_alerts(fleet.home, fleet.config, window, False, backtest)
    replayed = replay_alerts(fleet.home, fleet.config, window, False)
    assert reused.episodes == replayed.episodes
    assert any(e["signal"] == "stuck_agent" for e in reused.episodes)


def test_the_given_backtest_is_used_only_at_the_same_steps(fleet: Fleet) -> None:
    steps = report_steps(fleet.home)
    window = _window(fleet)
    # A backtest that saw nothing at the report's steps is taken as it is ...
    quiet = replay_alerts(fleet.home, fleet.config, window, False, BacktestResult(steps))
    assert quiet.episodes == [] and quiet.steps == len(steps)
    # ... one at other steps (another start, say) is not: the report replays.
    shifted = BacktestResult([t + STEP for t in steps])
    replayed = replay_alerts(fleet.home, fleet.config, window, False, shifted)
    assert replayed.episodes
