"""A backtest sees only what was known at each evaluation time (issue 13, item 1).

A generated fleet is replayed file by file, as the scheduler meets it: each minute's
dump file lands, and every 5 minutes the warehouse is built and every shipped signal is
evaluated live at that time. Then the same times are backtested on a warehouse holding
the whole history. Every pending and firing instance must be the same at every time,
labels and values, although the full warehouse knows how each run ended: the steps
cover runs in flight (a stuck-runs incident), a tool failure (labels are dimensions of
runs still running) and roots exported late, in a later file than their end.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fleetsignals.alerts.backtest import run_backtest
from fleetsignals.alerts.engine import evaluate_live
from fleetsignals.alerts.records import Record
from fleetsignals.config import load_config
from fleetsignals.generate import generate_fleet
from fleetsignals.home import Home
from fleetsignals.ingest.land import land_paths
from fleetsignals.warehouse import build
from tests.fixtures.warehouses import query

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 1)
# Replayed evaluation times: 65 to 125 minutes into the fleet, every 5 minutes.
FIRST, LAST, EVERY = timedelta(minutes=65), timedelta(minutes=125), timedelta(minutes=5)


def _file_end(path: Path) -> datetime:
    # traces-20261101T0134.jsonl holds what arrived during 01:34, complete at 01:35.
    stamp = path.name.split("-")[1].split(".")[0]
    return datetime.strptime(stamp, "%Y%m%dT%H%M") + timedelta(minutes=1)


def _instances(records: list[Record]) -> list[tuple]:
    return sorted(
        (
            r["eval_at"],
            r["signal"],
            r["state"],
            tuple(sorted(r["labels"].items())),
            None if r["value"] is None else round(r["value"], 9),
        )
        for r in records
    )


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("asof")
    fleet = root / "fleet"
    generate_fleet(
        fleet,
        start=START,
        hours=2.5,
        runs_per_minute=8,
        seed=13,
        incidents=[
            ("tool_failure", timedelta(minutes=62), timedelta(minutes=25)),
            ("stuck_runs", timedelta(minutes=90), timedelta(minutes=30)),
        ],
    )
    dumps = sorted((fleet / "dumps").iterdir(), key=_file_end)
    config_path = root / "fleetsignals.yml"
    config_path.write_text(f"signal_dirs: [{REPO / 'signals'}]\n", encoding="utf-8")
    config = load_config(config_path)

    live_home = Home(root / "live").ensure()
    steps, moment = [], START + FIRST
    while moment <= START + LAST:
        steps.append(moment)
        moment += EVERY
    live: list[Record] = []
    landed = 0
    for at in steps:
        # Every file complete by `at` lands (one at a time, as the inbox fills), nothing later.
        while landed < len(dumps) and _file_end(dumps[landed]) <= at:
            land_paths([dumps[landed]], live_home, config, settle_seconds=0)
            landed += 1
        build(live_home, config)
        outcome = evaluate_live(live_home, config, at, notify=False)
        assert outcome.problems == [], outcome.problems
        live += outcome.records

    full_home = Home(root / "full").ensure()
    land_paths(dumps, full_home, config, settle_seconds=0)
    build(full_home, config)
    backtest = run_backtest(full_home, config, steps[0], steps[-1], EVERY)
    assert backtest.problems == [], backtest.problems
    return {"steps": steps, "live": live, "backtest": backtest.records, "full": full_home}


@pytest.mark.slow
def test_backtest_equals_live_replay_at_every_step(replay: dict) -> None:
    assert _instances(replay["backtest"]) == _instances(replay["live"])


@pytest.mark.slow
def test_replay_covers_in_flight_runs_failures_and_late_roots(replay: dict) -> None:
    """The comparison above is not vacuous: what a backtest without as-of data would have
    got wrong happens at the replayed times."""
    fired = {r["signal"] for r in replay["live"] if r["state"] == "firing"}
    assert {"stuck_agent", "correlated_failure"} <= fired
    steps = replay["steps"]
    # Roots that had ended by a step but were received after it (a retried export):
    # live, those runs were still rootless at that step.
    late_roots = query(
        replay["full"],
        "select count(*) from spans as s "
        "inner join int_source_files_received as f on s.source_sha256 = f.source_sha256 "
        "where s.is_root and exists (select 1 from unnest(?) as t(step_at) "
        "where s.end_at <= t.step_at and f.received_at > t.step_at)",
        [steps],
    )[0][0]
    assert late_roots > 0
    # Runs whose current dimensions or status differ from those known at some step.
    changed = query(
        replay["full"],
        "select count(distinct v.run_id) from fct_run_versions as v "
        "inner join fct_runs as r on v.run_id = r.run_id "
        "where v.known_until is not null and (v.has_root != r.has_root "
        "or v.agent_name is distinct from r.agent_name or v.model is distinct from r.model)",
    )[0][0]
    assert changed > 0
