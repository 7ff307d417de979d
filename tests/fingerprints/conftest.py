"""Fixtures: hand-built lakes for the feature mart, a generated fleet for the signal.

Everything is real: Parquet lake files, the dbt build, the published snapshot,
the alerts engine's backtest. Builds cost seconds, so the generated fleet is
built once per session.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fleetsignals.config import Config, load_config
from fleetsignals.generate import GroundTruth, generate_fleet
from fleetsignals.home import Home
from fleetsignals.warehouse import build
from ingest.land import land_paths
from ingest.schema import SPAN_SCHEMA

FLEET_START = datetime(2026, 11, 1)


def empty_config(tmp: Path) -> Config:
    path = tmp / "fleetsignals.yml"
    path.write_text("{}\n", encoding="utf-8")
    return load_config(path)


def trace_id(trace: str) -> str:
    return hashlib.md5(trace.encode()).hexdigest()


def span(trace: str, name: str, start: datetime, seconds: float, **fields: Any) -> dict[str, Any]:
    """One lake row; ids derive from (trace, name); ``parent`` names the parent span."""
    parent = fields.pop("parent", None)
    end = start + timedelta(seconds=seconds)
    row: dict[str, Any] = dict.fromkeys(SPAN_SCHEMA.names)
    row.update(
        trace_id=trace_id(trace),
        span_id=hashlib.md5(f"{trace}/{name}".encode()).hexdigest()[:16],
        parent_span_id=hashlib.md5(f"{trace}/{parent}".encode()).hexdigest()[:16]
        if parent
        else None,
        name=name,
        kind="internal",
        start_at=start,
        end_at=end,
        start_ns=int((start - datetime(1970, 1, 1)).total_seconds() * 1e9),
        end_ns=int((end - datetime(1970, 1, 1)).total_seconds() * 1e9),
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


def write_spans(home: Home, rows: list[dict[str, Any]], name: str) -> None:
    """Rows as real lake files, partitioned by end hour as ingest writes them."""
    parts: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        parts.setdefault(
            (row["end_at"].strftime("%Y-%m-%d"), row["end_at"].strftime("%H")), []
        ).append(row)
    for (dt, hr), part in parts.items():
        folder = home.lake / f"dt={dt}" / f"hr={hr}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(part, schema=SPAN_SCHEMA), folder / f"{name}.parquet")


@pytest.fixture
def lake_home(tmp_path: Path) -> tuple[Home, Config]:
    return Home(tmp_path / "home").ensure(), empty_config(tmp_path)


@pytest.fixture(scope="session")
def drift_fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Home, Config, GroundTruth]:
    """Seven hours at the generator's default rate: its behaviour_drift incident, then the
    traffic surge and the cost inflation (the two that must stay silent), ingested and built."""
    root = tmp_path_factory.mktemp("drift_fleet")
    truth = generate_fleet(
        root / "fleet",
        start=FLEET_START,
        hours=7,
        runs_per_minute=20,
        seed=23,
        incidents=[
            ("behaviour_drift", "3h", "45m"),
            ("traffic_surge", "4h30m", "30m"),
            ("cost_inflation", "5h30m", "45m"),
        ],
    )
    home = Home(root / "home").ensure()
    config = empty_config(root)
    land_paths([truth.dumps], home, config, settle_seconds=0)
    build(home, config, full_refresh=True)
    return home, config, truth
