"""As-of evaluation on a real warehouse: live at T with only the data that existed at T gives
the same instances as a backtest at T over the full history (generated fleet, real ingest,
real dbt builds, the shipped signals)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fleetsignals.alerts.backtest import run_backtest
from fleetsignals.alerts.engine import evaluate_live
from fleetsignals.config import load_config
from fleetsignals.generate import generate_fleet
from fleetsignals.home import Home
from fleetsignals.ingest.land import land_paths
from fleetsignals.warehouse import build

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 1)


def instances(records: list[dict]) -> list[tuple]:
    return sorted(
        (r["signal"], r["state"], tuple(sorted(r["labels"].items())), round(r["value"] or 0, 9))
        for r in records
    )


@pytest.mark.slow
def test_live_at_t_equals_backtest_at_t(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(REPO)  # the dbt project and the shipped signals live at the repo root
    fleet = tmp_path / "fleet"
    # A stuck-runs incident 70-100 min in: runs loop on one tool, in flight at T.
    generate_fleet(fleet, start=START, hours=2, runs_per_minute=6, seed=11,
                   incidents=[("stuck_runs", timedelta(minutes=70), timedelta(minutes=30))])  # fmt: skip
    dumps = sorted((fleet / "dumps").iterdir())
    at = START + timedelta(minutes=95)
    config_path = tmp_path / "fleetsignals.yml"
    config_path.write_text(f"signal_dirs: [{REPO / 'signals'}]\n")
    config = load_config(config_path)

    # Live: every span that had ended by T has landed. Files are per export minute and
    # the exporter lags (a span that ended at 1:34:59 may be in the 1:35 file), so land a
    # few minutes past T: spans that ended after T are then present, as in a live
    # warehouse a moment later, and signals must ignore them, as in the backtest.
    live_home = Home(tmp_path / "live").ensure()
    land_paths([p for p in dumps if _minute(p) <= at + timedelta(minutes=3)], live_home, config)
    build(live_home, config)
    live = evaluate_live(live_home, config, at, notify=False)
    assert live.problems == []

    # Backtest: the whole history is there, later spans included.
    full_home = Home(tmp_path / "full").ensure()
    land_paths(dumps, full_home, config)
    build(full_home, config)
    replay = run_backtest(full_home, config, at, at, timedelta(minutes=5))
    assert replay.problems == []

    assert instances(live.records) == instances(replay.records)
    assert any(r["signal"] == "stuck_agent" for r in live.records)  # not vacuous


def _minute(path: Path) -> datetime:
    # traces-20261101T0134.jsonl holds the spans exported in that minute
    return datetime.strptime(path.name.split("-")[1].split(".")[0], "%Y%m%dT%H%M")
