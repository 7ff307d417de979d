"""Everything downstream of a build reads a Spark snapshot as it reads a DuckDB one:
the fingerprint marts come out the same, a backtest of every shipped signal gives the
same alerts, and `retain --dry-run` and `report` run on it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from fleetsignals.alerts.backtest import run_backtest
from fleetsignals.alerts.definitions import load_signals
from fleetsignals.cli import cli
from fleetsignals.files import write_atomic
from fleetsignals.home import Home
from fleetsignals.timeutil import format_time, parse_duration
from tests.fixtures.lakefiles import config_with
from tests.fixtures.warehouses import START
from tests.spark.conftest import FLEET_START, spark_snapshot

pytestmark = [pytest.mark.slow, pytest.mark.spark]

# Table -> its key (fct_fingerprint_windows: one row per window end x agent x variant).
FINGERPRINTS = {
    "fct_run_fingerprints": ("run_id",),
    "fct_fingerprint_windows": ("window_end_at", "agent_name", "prompt_variant"),
    "fct_run_anomaly_scores": ("run_id",),
}
# The backtest's steps: from the parity fleet's first incident (tests/spark/conftest.py,
# after its warm-up) to an hour after its last span, when data_stale fires.
FROM, UNTIL, EVERY = FLEET_START + timedelta(hours=3), START + timedelta(hours=3), "10m"
END = format_time(UNTIL)


@contextmanager
def reading(home: Home, snapshot: Path) -> Iterator[None]:
    """Point the home's CURRENT at ``snapshot`` (as right after the Spark build), then back."""
    pointer = home.snapshots / "CURRENT"
    before = pointer.read_text(encoding="utf-8")
    write_atomic(pointer, f"{snapshot.parent.name}/{snapshot.name}\n")
    try:
        yield
    finally:
        write_atomic(pointer, before)


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, dict)) and isinstance(b, type(a)):
        return repr(a) == repr(b)
    return a == b


def rows_of(database: Path, table: str, key: tuple[str, ...]) -> tuple[list[str], list[tuple]]:
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute(
            f"select * exclude (build_id) from {table} order by {', '.join(key)}"
        ).fetchall()
        return [c[0] for c in con.description], rows


@pytest.mark.parametrize("table", sorted(FINGERPRINTS))
def test_fingerprint_marts_are_the_same_on_both_engines(built_on_both: Home, table: str) -> None:
    # The Spark snapshot's fingerprint marts: the one Python implementation
    # (fleetsignals.fingerprints) run by DuckDB over the Parquet Spark wrote.
    key = FINGERPRINTS[table]
    current = built_on_both.snapshots / (built_on_both.snapshots / "CURRENT").read_text().strip()
    columns, on_duckdb = rows_of(current, table, key)
    spark_columns, on_spark = rows_of(spark_snapshot(built_on_both), table, key)
    assert spark_columns == columns
    assert len(on_spark) == len(on_duckdb) > 0, table
    differing = [
        (left[:3], name, a, b)
        for left, right in zip(on_duckdb, on_spark, strict=True)
        for name, a, b in zip(columns, left, right, strict=True)
        if not same(a, b)
    ]
    assert not differing, f"{table}: {differing[:5]}"


def alerts(home: Home, tmp_path: Path) -> list[tuple]:
    result = run_backtest(home, config_with(tmp_path), FROM, UNTIL, parse_duration(EVERY))
    assert result.problems == []
    return sorted(
        (r["signal"], r["eval_at"], r["state"], sorted(r["labels"].items()), r["value"])
        for r in result.records
    )


def test_a_backtest_of_every_signal_gives_the_same_alerts(
    built_on_both: Home, tmp_path: Path
) -> None:
    on_duckdb = alerts(built_on_both, tmp_path)
    with reading(built_on_both, spark_snapshot(built_on_both)):
        on_spark = alerts(built_on_both, tmp_path)
    assert [r[:4] for r in on_spark] == [r[:4] for r in on_duckdb]
    assert all(same(a[4], b[4]) for a, b in zip(on_duckdb, on_spark, strict=True))
    # Every shipped signal ran (none failed) and fired on its incident (or, data_stale,
    # after the last span), so no signal agrees on "nothing fires" only.
    signals, problems = load_signals(config_with(tmp_path)["signal_dirs"])
    assert len(signals) == 7 and problems == []
    firing = {r[0] for r in on_duckdb if r[2] == "firing"}
    assert firing == {signal.name for signal in signals}, on_duckdb


def test_retain_dry_run_and_report_run_on_a_spark_snapshot(
    built_on_both: Home, tmp_path: Path
) -> None:
    config = tmp_path / "fleetsignals.yml"
    config.write_text("{}\n", encoding="utf-8")
    base = ["--home", str(built_on_both.root), "--config", str(config)]
    with reading(built_on_both, spark_snapshot(built_on_both)):
        dry = CliRunner().invoke(cli, [*base, "retain", "--at", END, "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert dry.output.startswith("dry run: nothing changed.")
        out = tmp_path / "report.html"
        # The synthetic lake's two hours: the report replays every signal over its window,
        # and the whole fleet's seven would cost minutes for nothing more to check.
        window = ["--start", format_time(START), "--end", END]
        report = CliRunner().invoke(cli, [*base, "report", *window, "--out", str(out)])
        assert report.exit_code == 0, report.output
    assert not (built_on_both.facts / "retention").exists()
    assert "<html" in out.read_text(encoding="utf-8").lower()
