"""Fixtures for the warehouse tests: real lakes (Parquet), real dbt builds, real snapshots.

Builds cost seconds each, so homes that several tests only read are built once per
module or session; tests that change a home make their own.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from lakefiles import config_with, span, trace_id, write_spans

from fleetsignals.home import Home
from fleetsignals.snapshot import connect_snapshot
from fleetsignals.warehouse import build
from fleetsignals.warehouse.synthetic import write_synthetic_lake

__all__ = ["config_with", "span", "trace_id", "write_spans"]

START = datetime(2026, 11, 20, 0, 0)


def query(home: Home, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of a query on the published snapshot (what every reader sees)."""
    with connect_snapshot(home) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture
def make_home(tmp_path: Path) -> Callable[[str], Home]:
    def make(name: str = "home") -> Home:
        return Home(tmp_path / name).ensure()

    return make


@pytest.fixture(scope="session")
def synthetic_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """Two hours of a synthetic fleet (10 runs/min), fully built once with dbt tests."""
    root = tmp_path_factory.mktemp("synthetic")
    home = Home(root / "home").ensure()
    write_synthetic_lake(home.lake, start=START, hours=2, runs_per_minute=10, seed=3)
    build(home, config_with(root), full_refresh=True)
    return home


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Home, Path]:
    """A generated fleet (OTLP dumps) ingested and built; returns (home, runs.parquet)."""
    from fleetsignals.generate import generate_fleet
    from fleetsignals.ingest.land import land_paths

    root = tmp_path_factory.mktemp("fleet")
    out = root / "fleet"
    generate_fleet(out, hours=1.5, runs_per_minute=4, seed=5, incidents=["stuck_runs"])
    home = Home(root / "home").ensure()
    config = config_with(root)
    land_paths([out / "dumps"], home, config, settle_seconds=0)
    build(home, config, full_refresh=True)
    return home, out / "runs.parquet"


def copy_home(source: Home, target: Path) -> Home:
    shutil.copytree(source.root, target)
    return Home(target)


def lake_rows(home: Home, sql: str) -> list[tuple]:
    """Query the raw lake files directly (not through the warehouse)."""
    with duckdb.connect() as con:
        con.execute(
            f"create view lake as select * from read_parquet('{home.lake}/*/*/*.parquet', "
            "hive_partitioning = false)"
        )
        return con.execute(sql).fetchall()
