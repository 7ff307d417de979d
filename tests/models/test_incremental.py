"""Incremental builds: spans split across files, out of order, duplicated and late give
the same tables as one full build; run status follows the lake's watermark."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import duckdb

from fleetsignals.home import Home
from fleetsignals.snapshot import current_snapshot
from fleetsignals.warehouse import build
from tests.fixtures.lakefiles import config_with, span, trace_id, write_spans
from tests.fixtures.synthetic import write_synthetic_lake
from tests.fixtures.warehouses import START, query

# Slices of span end time, in the order they land: the (40, 45) slice lands late,
# after (45, 50), as a file held back by a slow exporter would.
SLICES = [(0, 40.25), (45.25, 50.25), (40.25, 45.25), (50.25, 55.25), (55.25, 60.25), (60.25, 90)]


def minutes(n: float):
    return START + timedelta(minutes=n)


def land(home: Home, since: float, until: float, landed: float, hours: float = 1) -> None:
    write_synthetic_lake(
        home.lake,
        start=START,
        hours=hours,
        runs_per_minute=10,
        seed=9,
        since=minutes(since),
        until=minutes(until),
        landed_at=minutes(landed),
    )


def table_diff(a: Home, b: Home, table: str, exclude: list[str]) -> tuple[int, int]:
    """Rows of ``table`` only in a, only in b (columns in ``exclude`` ignored)."""
    with duckdb.connect() as con:
        con.execute(f"attach '{current_snapshot(a)}' as a (read_only)")
        con.execute(f"attach '{current_snapshot(b)}' as b (read_only)")
        described = con.execute(f"describe a.{table}").fetchall()
        # Sums of doubles depend on the order of addition: compare them to 1e-12.
        cols = ", ".join(
            f"round({name}, 12)" if kind == "DOUBLE" else name
            for name, kind, *_ in described
            if name not in exclude
        )
        only_a = con.execute(
            f"select count(*) from (select {cols} from a.{table} except all select {cols} from b.{table})"
        ).fetchone()[0]
        only_b = con.execute(
            f"select count(*) from (select {cols} from b.{table} except all select {cols} from a.{table})"
        ).fetchone()[0]
    return only_a, only_b


def test_incremental_builds_equal_one_full_build(tmp_path: Path) -> None:
    config = config_with(tmp_path)
    inc = Home(tmp_path / "inc").ensure()
    seen_running = 0
    for step, (since, until) in enumerate(SLICES):
        land(inc, since, until, landed=60 + step * 5)
        if step == 1:
            # The same spans landing again from another file (an exporter retry).
            again = inc.lake / "dt=2026-11-20" / "hr=00"
            for path in sorted(again.glob("synthetic-*.parquet"))[:1]:
                shutil.copy(path, path.with_name("retry-" + path.name))
        build(inc, config)
        seen_running += query(inc, "select count(*) from fct_runs where status = 'running'")[0][0]
    assert seen_running > 0  # roots land after their children: runs were in flight

    full = Home(tmp_path / "full").ensure()
    for since, until in SLICES:
        land(full, since, until, landed=100)
    build(full, config, full_refresh=True)

    status = dict(query(full, "select status, count(*) from fct_runs group by all"))
    assert set(status) == {"ok", "error"} and sum(status.values()) == 600
    volatile = ["build_id", "part_at"]
    for table in ("fct_runs", "fct_llm_calls", "fct_tool_calls", "fct_windows_60m", "spans"):
        # When a span landed differs between the homes (so does a run's last_known_at).
        landing = ["landed_at", "source_sha256", "last_known_at"]
        assert table_diff(inc, full, table, volatile + landing) == (0, 0), table


def test_late_spans_older_than_the_lookback_need_a_full_refresh(tmp_path: Path) -> None:
    config = config_with(tmp_path, "warehouse: {lookback: 10m}\n")
    home = Home(tmp_path / "home").ensure()
    land(home, 60, 150, landed=150, hours=2)
    build(home, config)
    before = query(home, "select count(*) from fct_runs")[0][0]
    # Spans that ended in the first hour land 90 minutes late: their partition is
    # older than the watermark minus the 10 minute lookback, so increments skip them.
    land(home, 0, 60, landed=155, hours=2)
    build(home, config)
    assert query(home, "select count(*) from fct_runs")[0][0] == before
    build(home, config, full_refresh=True)
    assert query(home, "select count(*) from fct_runs")[0][0] == 1200


def test_status_running_timeout_then_ok_when_the_root_lands(tmp_path: Path) -> None:
    config = config_with(tmp_path)  # stale_after 30m
    home = Home(tmp_path / "home").ensure()
    t0 = START
    child = [
        span("slow", "llm", t0 + timedelta(seconds=1), 2, parent="root", operation="llm"),
    ]
    write_spans(home, child, "a")
    build(home, config)
    run = trace_id("slow")

    def status() -> tuple:
        return query(home, "select status, ended_at from fct_runs where run_id = ?", [run])[0]

    assert status() == ("running", None)
    # Another run's span moves the watermark 29 minutes on: still running.
    write_spans(home, [span("other", "root", t0 + timedelta(minutes=29), 1)], "b")
    build(home, config)
    assert status()[0] == "running"
    write_spans(home, [span("other2", "root", t0 + timedelta(minutes=40), 1)], "c")
    build(home, config)
    assert status() == ("timeout", t0 + timedelta(seconds=3))
    # The root lands late (its end is still within the lookback): the run is whole.
    root = span("slow", "root", t0, 50 * 60, status_code="error", operation="agent")
    write_spans(home, [root], "d")
    build(home, config)
    assert status() == ("error", t0 + timedelta(minutes=50))
