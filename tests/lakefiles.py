"""Hand-built lake rows and files for tests: real Parquet in the layout ingest writes."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fleetsignals.config import Config, load_config
from fleetsignals.home import Home
from fleetsignals.ingest.schema import SPAN_SCHEMA

EPOCH = datetime(1970, 1, 1)


def config_with(tmp: Path, text: str = "") -> Config:
    """A Config loaded from a real file (so the same validation as the CLI applies)."""
    path = tmp / "fleetsignals.yml"
    path.write_text(text or "{}\n", encoding="utf-8")
    return load_config(path)


def trace_id(trace: str) -> str:
    return hashlib.md5(trace.encode()).hexdigest()


def span_id(trace: str, name: str) -> str:
    return hashlib.md5(f"{trace}/{name}".encode()).hexdigest()[:16]


def span(
    trace: str,
    name: str,
    start: datetime,
    seconds: float,
    parent: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """One lake row: ids derived from (trace, name), ``parent`` names the parent span;
    everything else from ``fields``. Times are naive UTC, as the lake stores them."""
    end = start + timedelta(seconds=seconds)
    row: dict[str, Any] = dict.fromkeys(SPAN_SCHEMA.names)
    row.update(
        trace_id=trace_id(trace),
        span_id=span_id(trace, name),
        parent_span_id=span_id(trace, parent) if parent else None,
        name=name,
        kind="internal",
        start_at=start,
        end_at=end,
        start_ns=(start - EPOCH) // timedelta(microseconds=1) * 1000,
        end_ns=(end - EPOCH) // timedelta(microseconds=1) * 1000,
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
    parts: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        key = (row["end_at"].strftime("%Y-%m-%d"), row["end_at"].strftime("%H"))
        parts.setdefault(key, []).append(row)
    written = []
    for (dt, hr), part in parts.items():
        folder = home.lake / f"dt={dt}" / f"hr={hr}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.parquet"
        pq.write_table(pa.Table.from_pylist(part, schema=SPAN_SCHEMA), path)
        written.append(path)
    return written
