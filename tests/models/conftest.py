"""Fixtures for the warehouse tests: real lakes (Parquet), real dbt builds, real snapshots.

Builds cost seconds each, so homes that several tests only read are built once per
module or session; tests that change a home make their own.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fleetsignals.config import Config, load_config
from fleetsignals.home import Home
from fleetsignals.snapshot import connect_snapshot
from fleetsignals.warehouse import build
from fleetsignals.warehouse.synthetic import write_synthetic_lake
from ingest.schema import SPAN_SCHEMA

START = datetime(2026, 11, 20, 0, 0)


def config_with(tmp: Path, text: str = "") -> Config:
    """A Config loaded from a real file (so the same validation as the CLI applies)."""
    path = tmp / "fleetsignals.yml"
    path.write_text(text or "{}\n", encoding="utf-8")
    return load_config(path)


def query(home: Home, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of a query on the published snapshot (what every reader sees)."""
    with connect_snapshot(home) as con:
        return con.execute(sql, params or []).fetchall()


def span(
    trace: str,
    name: str,
    start: datetime,
    seconds: float,
    parent: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """One lake row: ids derived from (trace, name); everything else from ``fields``."""
    trace_id = hashlib.md5(trace.encode()).hexdigest()
    span_id = hashlib.md5(f"{trace}/{name}".encode()).hexdigest()[:16]
    end = start + timedelta(seconds=seconds)
    row: dict[str, Any] = dict.fromkeys(SPAN_SCHEMA.names)
    row.update(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=hashlib.md5(f"{trace}/{parent}".encode()).hexdigest()[:16]
        if parent
        else None,
        name=name,
        kind="internal",
        start_at=start,
        end_at=end,
        start_ns=int(start.timestamp() * 1e9),
        end_ns=int(end.timestamp() * 1e9),
        duration_ms=seconds * 1000,
        status_code="unset",
        operation="other",
        attributes="{}",
        resource_attributes='{"service.name": "svc"}',
        scope_attributes="{}",
        events="[]",
        links="[]",
        source_sha256="test",
        landed_at=end,
    )
    row.update(fields)
    return row


def write_spans(home: Home, rows: list[dict[str, Any]], name: str) -> list[Path]:
    """Write rows as real lake files, partitioned by end hour like ingest does."""
    written = []
    by_part: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        key = (row["end_at"].strftime("%Y-%m-%d"), row["end_at"].strftime("%H"))
        by_part.setdefault(key, []).append(row)
    for (dt, hr), part in by_part.items():
        folder = home.lake / f"dt={dt}" / f"hr={hr}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.parquet"
        pq.write_table(pa.Table.from_pylist(part, schema=SPAN_SCHEMA), path)
        written.append(path)
    return written


def trace_id(trace: str) -> str:
    return hashlib.md5(trace.encode()).hexdigest()


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
    from ingest.land import land_paths

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
