"""Helpers for retention tests: small span lakes written with pyarrow and SPAN_SCHEMA."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.schema import SPAN_SCHEMA


def trace_id(n: int) -> str:
    return hashlib.md5(f"trace-{n}".encode()).hexdigest()


def spans(traces: list[int], end: datetime, per_trace: int = 3) -> pa.Table:
    """``per_trace`` spans for each trace, all ending at ``end`` (root first)."""
    rows = []
    for t in traces:
        tid = trace_id(t)
        for k in range(per_trace):
            rows.append(
                {
                    "trace_id": tid,
                    "span_id": hashlib.md5(f"{tid}-{k}".encode()).hexdigest()[:16],
                    "parent_span_id": None
                    if k == 0
                    else hashlib.md5(f"{tid}-0".encode()).hexdigest()[:16],
                    "name": f"step {k}",
                    "start_at": end - timedelta(seconds=k + 1),
                    "end_at": end,
                    "start_ns": int((end - timedelta(seconds=k + 1)).timestamp() * 1e9),
                    "end_ns": int(end.timestamp() * 1e9),
                    "duration_ms": 1000.0 * (k + 1),
                    "status_code": "ok",
                    "attributes": f'{{"x": {{"int": {k}}}}}',
                    "source_sha256": "ab" * 32,
                    "landed_at": end,
                }
            )
    return pa.Table.from_pylist(rows, schema=SPAN_SCHEMA)


def partition_dir(lake: Path, hour: datetime) -> Path:
    return lake / f"dt={hour:%Y-%m-%d}" / f"hr={hour:%H}"


def write_file(lake: Path, hour: datetime, table: pa.Table, name: str) -> Path:
    """One small ingest-like file in the partition of ``hour``."""
    directory = partition_dir(lake, hour)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.parquet"
    pq.write_table(table, path, compression="zstd")
    return path


def lake_spans(lake: Path) -> Counter[tuple[str, str, str]]:
    """Multiset of (partition, trace_id, span_id) of every span in the lake."""
    found: Counter[tuple[str, str, str]] = Counter()
    for path in sorted(lake.glob("dt=*/hr=*/*.parquet")):
        table = pq.read_table(path, columns=["trace_id", "span_id"])
        part = path.parent.relative_to(lake).as_posix()
        for t, s in zip(table["trace_id"].to_pylist(), table["span_id"].to_pylist(), strict=True):
            found[(part, t, s)] += 1
    return found
