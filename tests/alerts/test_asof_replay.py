"""Issue 13 item 1: live evaluation at T on a warehouse that holds only the files landed by T
agrees with a backtest at T on the full warehouse, at many times, labels and values included.

The fleet is replayed file by file: each export file lands at its own minute (ingest's clock
is the one seam set here; ingest, dbt builds and the shipped signals are real), the warehouse
is built and evaluated live every five minutes, as the scheduler would. Runs are in flight at
every step of the stuck-runs incident, and a run's root span ends last, so it arrives in a
later file than its children.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fleetsignals.alerts.backtest import run_backtest
from fleetsignals.alerts.engine import evaluate_live
from fleetsignals.config import load_config
from fleetsignals.generate import generate_fleet
from fleetsignals.home import Home
from fleetsignals.ingest import land
from fleetsignals.ingest.land import land_paths
from fleetsignals.warehouse import build

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 1)
EVERY = timedelta(minutes=5)


def instances(records: list[dict]) -> list[tuple]:
    return sorted(
        (r["signal"], r["state"], tuple(sorted(r["labels"].items())), round(r["value"] or 0, 9))
        for r in records
    )


@pytest.mark.slow
def test_file_by_file_live_equals_backtest(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(REPO)  # the dbt project and the shipped signals live at the repo root
    fleet = tmp_path / "fleet"
    generate_fleet(fleet, start=START, hours=2, runs_per_minute=6, seed=11,
                   incidents=[("stuck_runs", timedelta(minutes=70), timedelta(minutes=30))])  # fmt: skip
    dumps = sorted((fleet / "dumps").iterdir())
    config_path = tmp_path / "fleetsignals.yml"
    config_path.write_text(f"signal_dirs: [{REPO / 'signals'}]\n")
    config = load_config(config_path)
    # Each file lands one minute after the minute it was exported in, as a live exporter's.
    landing: list[datetime] = [START]
    monkeypatch.setattr(land, "parse_time", lambda text=None: landing[0])

    def land_up_to(home: Home, at: datetime, done: set[Path]) -> None:
        for path in dumps:
            if path not in done and _minute(path) + timedelta(minutes=1) <= at:
                landing[0] = _minute(path) + timedelta(minutes=1)
                land_paths([path], home, config, settle_seconds=0)
                done.add(path)

    # Steps from before the incident through it and past its end.
    steps = [START + timedelta(minutes=m) for m in range(60, 111, 5)]
    live_home, landed = Home(tmp_path / "live").ensure(), set()
    live_records: list[dict] = []
    for at in steps:
        land_up_to(live_home, at, landed)
        build(live_home, config)
        live = evaluate_live(live_home, config, at, notify=False)
        assert live.problems == []
        live_records += [dict(r, at=at) for r in live.records]

    full_home = Home(tmp_path / "full").ensure()
    land_up_to(full_home, START + timedelta(hours=3), set())
    build(full_home, config)
    replay = run_backtest(full_home, config, steps[0], steps[-1], EVERY)
    assert replay.problems == []

    assert any(r["signal"] == "stuck_agent" for r in live_records)  # not vacuous
    disagree = {}
    for at in steps:
        seen_live = set(instances([r for r in live_records if r["at"] == at]))
        seen_replay = set(instances([r for r in replay.records if r["eval_at"] == at]))
        if seen_live != seen_replay:
            disagree[at] = (sorted(seen_live - seen_replay), sorted(seen_replay - seen_live))
    assert disagree == {}, "live only / backtest only, per step: " + repr(disagree)


def _minute(path: Path) -> datetime:
    # traces-20261101T0134.jsonl holds the spans exported in that minute
    return datetime.strptime(path.name.split("-")[1].split(".")[0], "%Y%m%dT%H%M")
