"""Helpers for retention tests: small span lakes written with pyarrow and SPAN_SCHEMA."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fleetsignals.ingest.schema import SPAN_SCHEMA


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


def synthetic_home(
    root: Path,
    start: datetime,
    hours: float,
    slice_minutes: int = 10,
    runs_per_minute: int = 10,
    seed: int = 7,
) -> Path:
    """A lake of synthetic runs landed in many small files (one per partition per slice)."""
    from fleetsignals.warehouse.synthetic import write_synthetic_lake

    lake = root / "lake" / "spans"
    moment = start
    end = start + timedelta(hours=hours)
    while moment < end:
        upto = moment + timedelta(minutes=slice_minutes)
        write_synthetic_lake(
            lake,
            start=start,
            hours=hours,
            runs_per_minute=runs_per_minute,
            seed=seed,
            since=moment,
            until=upto,
            landed_at=upto,
        )
        moment = upto
    return lake


FCT_RUNS_SQL = """
create or replace table fct_runs as
with spans as (
    select * from read_parquet($files, hive_partitioning = false)
),
runs as (
    select
        trace_id as run_id,
        max(agent_name) as agent_name,
        max(prompt_variant) as prompt_variant,
        max(tenant_id) as tenant_id,
        min(start_at) as started_at,
        max(end_at) filter (where parent_span_id is null) as root_ended_at,
        max(end_at) as last_span_at,
        max(status_code) filter (where parent_span_id is null) as root_status,
        count(*) filter (where operation in ('llm', 'tool')) as step_count,
        sum(input_tokens * 3e-6 + output_tokens * 1.5e-5) as cost_usd,
        count(*) as span_count
    from spans group by trace_id
)
select
    run_id, agent_name, prompt_variant, tenant_id, started_at,
    case when root_ended_at is not null then root_ended_at
         when last_span_at <= $watermark - interval 30 minute then last_span_at end as ended_at,
    last_span_at,
    case when root_status = 'error' then 'error' when root_ended_at is not null then 'ok'
         when last_span_at <= $watermark - interval 30 minute then 'timeout' else 'running' end
        as status,
    step_count, cost_usd, span_count,
    null::varchar as retention_reason, 1.0 as sample_weight
from runs
"""


def publish_runs(root: Path, name: str = "test") -> Path:
    """A snapshot whose fct_runs is computed from the lake (a stand-in for `build` in fast tests)."""
    import duckdb

    snapshots = root / "snapshots"
    snapshots.mkdir(parents=True, exist_ok=True)
    path = snapshots / f"{name}.duckdb"
    path.unlink(missing_ok=True)
    files = [str(p) for p in sorted((root / "lake" / "spans").glob("dt=*/hr=*/*.parquet"))]
    with duckdb.connect(str(path)) as con:
        watermark = con.execute(
            "select max(end_at) from read_parquet($files)", {"files": files}
        ).fetchone()[0]
        con.execute(FCT_RUNS_SQL, {"files": files, "watermark": watermark})
        # What the warehouse archives before a prune (fleetsignals.warehouse.archive).
        for name in ("int_runs_assembled", "fct_llm_calls", "fct_tool_calls"):
            con.execute(f"create table {name} as select run_id, started_at from fct_runs")
    (snapshots / "CURRENT").write_text(path.name)
    return path
