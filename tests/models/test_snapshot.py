"""Readers never wait for, nor block, a build: they read published read-only snapshots."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from fleetsignals.home import Home
from fleetsignals.snapshot import connect_snapshot, current_snapshot
from fleetsignals.warehouse import build
from fleetsignals.warehouse.publish import collect_garbage
from tests.fixtures.lakefiles import config_with
from tests.fixtures.synthetic import write_synthetic_lake
from tests.fixtures.warehouses import START, copy_home

# A reader in another process: queries in a loop until told to stop, counting
# successes and recording every failure.
LOOP_READER = """
import json, sys, time
from pathlib import Path
from fleetsignals.home import Home
from fleetsignals.snapshot import connect_snapshot
home, stop = Home(Path(sys.argv[1])), Path(sys.argv[2])
ok, errors, counts = 0, [], set()
while not stop.exists():
    try:
        with connect_snapshot(home) as con:
            n = con.execute("select count(*), sum(step_count) from fct_runs").fetchone()
            con.execute("select count(*) from fct_windows_60m where dimension = 'fleet'").fetchone()
            con.execute("select count(*) from spans").fetchone()
        counts.add(tuple(n))
        ok += 1
    except Exception as exc:
        errors.append(repr(exc))
print(json.dumps({"ok": ok, "errors": errors[:5], "n_errors": len(errors), "totals": sorted(counts)}))
"""

# A long-running reader: opens the snapshot, runs a query, holds the connection while
# the parent builds, then queries again on the same (now superseded) snapshot.
HOLDING_READER = """
import json, sys, time
from pathlib import Path
from fleetsignals.home import Home
from fleetsignals.snapshot import connect_snapshot
home, ready, go = Home(Path(sys.argv[1])), Path(sys.argv[2]), Path(sys.argv[3])
with connect_snapshot(home) as con:
    con.execute("begin transaction")
    first = con.execute("select count(*) from fct_runs").fetchone()[0]
    ready.touch()
    while not go.exists():
        time.sleep(0.05)
    second = con.execute("select count(*) from fct_runs").fetchone()[0]
    calls = con.execute("select count(*) from fct_llm_calls").fetchone()[0]
print(json.dumps({"first": first, "second": second, "calls": calls}))
"""


def spawn(code: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def own_home(synthetic_home: Home, tmp_path: Path) -> Home:
    return copy_home(synthetic_home, tmp_path / "home")


def test_queries_in_a_loop_all_succeed_during_full_rebuilds(own_home: Home, tmp_path: Path) -> None:
    config = config_with(tmp_path)
    before = _totals(own_home)
    stop = tmp_path / "stop"
    reader = spawn(LOOP_READER, own_home.root, stop)
    try:
        time.sleep(1.0)
        build(own_home, config, full_refresh=True, run_tests=False)
        # More data mid-way: the reader must see either the old or the new totals.
        write_synthetic_lake(own_home.lake, start=START, hours=3, runs_per_minute=10, seed=3,
                             since=START + timedelta(hours=2, minutes=10))  # fmt: skip
        build(own_home, config, full_refresh=True, run_tests=False)
    finally:
        stop.touch()
        out, err = reader.communicate(timeout=120)
    report = json.loads(out)
    assert report["n_errors"] == 0, report["errors"] or err
    assert report["ok"] >= 5
    after = _totals(own_home)
    assert after != before  # the second build added runs, so a torn read would show
    assert {tuple(t) for t in report["totals"]} <= {before, after}


def _totals(home: Home) -> tuple[int, int]:
    with connect_snapshot(home) as con:
        return con.execute("select count(*), sum(step_count) from fct_runs").fetchone()


def test_a_build_started_during_a_long_query_succeeds(own_home: Home, tmp_path: Path) -> None:
    config = config_with(tmp_path)
    ready, go = tmp_path / "ready", tmp_path / "go"
    reader = spawn(HOLDING_READER, own_home.root, ready, go)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert reader.poll() is None, reader.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        old = current_snapshot(own_home)
        summary = build(own_home, config, full_refresh=True, run_tests=False)
        assert summary.snapshot != old
        assert current_snapshot(own_home) == summary.snapshot
    finally:
        go.touch()
        out, err = reader.communicate(timeout=60)
    report = json.loads(out)
    assert report["first"] == report["second"] > 0, err
    assert report["calls"] > 0


def test_snapshot_refuses_writes(synthetic_home: Home) -> None:
    with connect_snapshot(synthetic_home) as con:
        with pytest.raises(duckdb.Error):
            con.execute("delete from fct_runs")
        with pytest.raises(duckdb.Error):
            con.execute("create table x as select 1")


def test_snapshot_opens_from_plain_duckdb(synthetic_home: Home) -> None:
    """What docs/warehouse.md tells DuckDB CLI users to do: open the file CURRENT names."""
    name = (synthetic_home.snapshots / "CURRENT").read_text().strip()
    with duckdb.connect(str(synthetic_home.snapshots / name), read_only=True) as con:
        tables = {r[0] for r in con.execute("show tables").fetchall()}
    expected = {"spans", "fct_runs", "fct_llm_calls", "fct_tool_calls", "fct_windows_60m"}
    assert expected <= tables
    assert {"dim_unpriced_models", "dim_model_prices"} <= tables


def test_incremental_publish_rewrites_only_touched_partitions(
    own_home: Home, tmp_path: Path
) -> None:
    config = config_with(tmp_path)

    def land(minutes: int, landed_hours: int) -> dict:
        since = START + timedelta(hours=2, minutes=minutes)
        write_synthetic_lake(own_home.lake, start=since, hours=0.1, runs_per_minute=10, seed=minutes,
                             landed_at=START + timedelta(hours=landed_hours))  # fmt: skip
        build(own_home, config)
        return json.loads(current_snapshot(own_home).with_name("manifest.json").read_text())

    # The first increment also re-reads spans landed just before the previous build
    # (landed_overlap), which here is the whole history: all landed at once.
    before = land(0, 4)
    after = land(6, 5)
    runs_before, runs_after = (
        before["tables"]["int_runs_assembled"],
        after["tables"]["int_runs_assembled"],
    )
    changed = {k for k in runs_after if runs_after[k] != runs_before.get(k)}
    assert changed == {"20261120T02"}  # only the new runs' hour; the two old hours are reused
    assert all(Path(p).exists() for p in runs_after.values())
    # The fingerprint marts are published by partition too (they grow with history).
    fingerprints = after["tables"]["fct_run_fingerprints"]
    changed = {
        k
        for k in fingerprints
        if fingerprints[k] != before["tables"]["fct_run_fingerprints"].get(k)
    }
    assert changed <= {"20261120T01", "20261120T02"}  # hours of runs this build touched
    assert "20261120T00" in fingerprints and "20261120T00" not in changed
    # Every row the build wrote is in the snapshot (its partitions were re-exported).
    with (
        duckdb.connect(str(own_home.database), read_only=True) as warehouse,
        connect_snapshot(own_home) as snapshot,
    ):
        # dbt-duckdb's Python models leave a staging table per build: dropped, never published.
        leftovers = (
            "select count(*) from information_schema.tables where table_name like '%dbt_tmp%'"
        )
        assert warehouse.execute(leftovers).fetchone()[0] == 0
        assert not [t for t in after["tables"] if "dbt_tmp" in t]
        for table in ("fct_run_fingerprints", "fct_fingerprint_windows", "fct_run_anomaly_scores"):
            assert table in after["tables"], table
            count = f"select count(*), count(distinct build_id) from {table}"
            assert snapshot.execute(count).fetchone() == warehouse.execute(count).fetchone()


def test_garbage_collection_keeps_current_and_recent(own_home: Home, tmp_path: Path) -> None:
    config = config_with(tmp_path)
    build(own_home, config, full_refresh=True, run_tests=False)
    versions = [p for p in own_home.snapshots.iterdir() if p.is_dir() and p.name != "data"]
    assert len(versions) >= 2
    # Nothing is old enough yet.
    assert collect_garbage(own_home, grace_seconds=3600) == 0
    removed = collect_garbage(own_home, grace_seconds=0, now=time.time() + 10)
    left = [p for p in own_home.snapshots.iterdir() if p.is_dir() and p.name != "data"]
    assert removed == len(versions) - 1 and len(left) == 1
    with connect_snapshot(own_home) as con:  # the current one still works, files intact
        assert con.execute("select count(*) from fct_llm_calls").fetchone()[0] > 0
