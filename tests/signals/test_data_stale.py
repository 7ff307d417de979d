"""Missing data is not silence: when ingest stops for 20 minutes, data_stale fires once per
service and stuck_agent does not page for every run in flight; a run that really goes quiet
while data flows still fires. Real Parquet lake (landed_at as ingest writes it), real dbt
builds, the shipped signals through the real engine, live and in a backtest."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from fleetsignals.alerts.backtest import run_backtest
from fleetsignals.alerts.engine import evaluate_live
from fleetsignals.alerts.records import episodes
from fleetsignals.home import Home
from fleetsignals.warehouse import build
from tests.fixtures.lakefiles import span, write_spans
from tests.fixtures.signalfleets import signal_config
from tests.fixtures.synthetic import AGENTS, write_synthetic_lake

START = datetime(2026, 11, 3)
HOURS = 2
# Ingest stops at minute 60: spans that end in [60, 80) land together at minute 81.
STOP, RESUME = START + timedelta(minutes=60), START + timedelta(minutes=81)
SERVICES = {f"svc-{agent}" for agent in AGENTS}
SIGNALS = ["data_stale", "stuck_agent"]


def minute(m: float) -> datetime:
    return START + timedelta(minutes=m)


def landed(end: datetime) -> datetime:
    """When a span that ended at ``end`` lands: 20 s later, except during the outage."""
    if STOP <= end + timedelta(seconds=20) < RESUME:
        return RESUME
    return end + timedelta(seconds=20)


def tool_calls(run: str, service: str, minutes: range) -> list[dict]:
    """One tool call a minute (four tools in turn: no streak), root still open."""
    tools = ["web_search", "read_file", "run_sql", "send_email"]
    rows = []
    for m in minutes:
        end = minute(m) + timedelta(seconds=2)
        rows.append(span(
            run, f"execute_tool {tools[m % 4]} #{m}", minute(m), 2, parent="root",
            operation="tool", tool_name=tools[m % 4], tool_args_hash=f"{run}{m}",
            service_name=service, landed_at=landed(end),
            resource_attributes=f'{{"service.name": "{service}"}}',
        ))  # fmt: skip
    return rows


def write_lake(home: Home, until: datetime) -> None:
    """The synthetic fleet, plus long runs, as landed by ``until`` (minute slices)."""
    m = 0
    while minute(m) < minute(HOURS * 60 + 5):
        since, end = minute(m), minute(m + 1)
        arrival = landed(end - timedelta(seconds=20))
        if since >= STOP - timedelta(minutes=1) and end <= RESUME:
            arrival = RESUME
        if arrival <= until:
            write_synthetic_lake(home.lake, start=START, hours=HOURS, runs_per_minute=4,
                                 seed=9, since=since, until=end, landed_at=arrival)  # fmt: skip
        m += 1
    rows = []
    # Five long runs that call a tool every minute from 40 to 110 (through the outage).
    for n, agent in enumerate(AGENTS + AGENTS[:1]):
        rows += tool_calls(f"long-{n}", f"svc-{agent}", range(40, 110))
    # A run that really goes quiet at minute 30 while data keeps flowing.
    rows += tool_calls("quiet", "svc-coder", range(20, 31))
    write_spans(home, [r for r in rows if r["landed_at"] <= until], f"long-{until:%H%M}")


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> tuple[Home, object, dict]:
    root = tmp_path_factory.mktemp("outage")
    home = Home(root / "home").ensure()
    config = signal_config(root)
    # Live, 10 minutes into the outage: the lake holds what had landed by then.
    live_at = minute(70)
    write_lake(home, until=live_at)
    build(home, config, full_refresh=True)
    live = evaluate_live(home, config, live_at, SIGNALS, dry_run=True)
    assert not live.problems, [str(p) for p in live.problems]
    # Ingest resumes: everything lands (rewritten whole), a build, then a backtest.
    for path in home.lake.rglob("*.parquet"):
        path.unlink()
    write_lake(home, until=minute(24 * 60))
    build(home, config, full_refresh=True)
    result = run_backtest(home, config, minute(20), minute(115), timedelta(minutes=5), SIGNALS)
    assert not result.problems, [str(p) for p in result.problems]
    return home, live, {"records": result.records, "steps": result.steps}


def test_live_during_the_outage_one_stale_alert_per_service_and_no_storm(outage) -> None:
    _, live, _ = outage
    stale = [r for r in live.records if r["signal"] == "data_stale"]
    assert sorted(r["labels"]["service_name"] for r in stale) == sorted(SERVICES)
    assert all(r["state"] == "firing" and r["value"] >= 10 for r in stale)
    assert [r for r in live.records if r["signal"] == "stuck_agent"] == []


def test_backtest_sees_the_outage_as_live_did(outage) -> None:
    _, _, replay = outage
    found = episodes(replay["records"], replay["steps"])
    stale = [e for e in found if e["signal"] == "data_stale"]
    # One episode per service, during the outage, over once the data is back.
    assert sorted(e["labels"]["service_name"] for e in stale) == sorted(SERVICES)
    for e in stale:
        assert STOP < e["start"] <= minute(75) and e["end"] is not None and e["end"] <= minute(85)
    stuck = {e["labels"]["run_id"] for e in found if e["signal"] == "stuck_agent"}
    # The quiet run fires while data flows; no long run is paged for the outage's silence.
    assert len(stuck) == 1
    (quiet,) = [e for e in found if e["signal"] == "stuck_agent"]
    assert minute(40) <= quiet["start"] <= minute(50)
