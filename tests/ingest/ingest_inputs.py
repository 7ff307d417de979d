"""Builders of OTLP/JSON inputs and a reader of the lake, for the ingest tests."""

from __future__ import annotations

import gzip
import random
from pathlib import Path
from typing import Any

import duckdb
import orjson

from fleetsignals.home import Home

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO.parent / "shared" / "otlp-samples"
if not SAMPLES.is_dir():
    SAMPLES = REPO / "tests" / "data" / "otlp-samples"

T0 = 1_790_000_000_000_000_000  # 2026-09-21T14:13:20Z in unix nanoseconds


def attr(key: str, value: Any) -> dict:
    """An OTLP KeyValue with the AnyValue member chosen from the Python type."""
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def span(
    trace: int,
    number: int,
    *,
    parent: int | None = None,
    start_ns: int = T0,
    duration_ns: int = 1_000_000,
    attributes: list[dict] | None = None,
    **extra: Any,
) -> dict:
    """A span with ids derived from (trace, number), so tests can predict them."""
    out = {
        "traceId": f"{trace:032x}",
        "spanId": f"{number + 1:016x}",
        "name": f"span {number}",
        "kind": 1,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(start_ns + duration_ns),
        "attributes": attributes or [],
        "status": {},
    }
    if parent is not None:
        out["parentSpanId"] = f"{parent + 1:016x}"
    out.update(extra)
    return out


def request(spans: list[dict], resource: list[dict] | None = None, scope: str = "test") -> dict:
    """An ExportTraceServiceRequest holding spans under one resource and scope."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": resource or [attr("service.name", "svc")]},
                "scopeSpans": [{"scope": {"name": scope, "version": "1"}, "spans": spans}],
            }
        ]
    }


def jsonl(messages: list[Any]) -> bytes:
    return b"".join(orjson.dumps(m) + b"\n" for m in messages)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def synthetic_lines(
    n_spans: int, per_line: int = 50, seed: int = 7, step_ns: int = 1_000_000
) -> tuple[bytes, set]:
    """JSON lines of GenAI-ish spans ``step_ns`` apart, and the (trace_id, span_id) set they hold."""
    rnd = random.Random(seed)
    out = []
    ids = set()
    made = 0
    while made < n_spans:
        spans = []
        for _ in range(min(per_line, n_spans - made)):
            trace = rnd.getrandbits(127) + 1
            s = span(
                trace,
                made,
                start_ns=T0 + made * step_ns,
                attributes=[
                    attr("gen_ai.operation.name", rnd.choice(["chat", "execute_tool"])),
                    attr("gen_ai.request.model", "gpt-4o"),
                    attr("gen_ai.usage.input_tokens", rnd.randint(1, 5000)),
                    attr("gen_ai.agent.name", "planner"),
                    attr("tenant.id", f"t{rnd.randint(1, 9)}"),
                ],
            )
            ids.add((s["traceId"], s["spanId"]))
            spans.append(s)
            made += 1
        out.append(orjson.dumps(request(spans)) + b"\n")
    return b"".join(out), ids


def lake_rows(home: Home, where: str = "true") -> list[dict]:
    """Every span row in the lake (read as any DuckDB user would), as dicts."""
    files = list(home.lake.glob("dt=*/hr=*/*.parquet"))
    if not files:
        return []
    glob = str(home.lake / "**" / "*.parquet")
    with duckdb.connect() as con:
        rel = con.sql(
            f"select * from read_parquet(?, hive_partitioning = true) where {where}"
            " order by trace_id, span_id",
            params=[glob],
        )
        names = rel.columns
        return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]


def gz(data: bytes) -> bytes:
    return gzip.compress(data)
