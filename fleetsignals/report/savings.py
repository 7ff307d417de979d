"""Retention savings: runs and spans kept per reason, and what pruning saved on disk.

Retention's decisions are in fct_runs (retention_reason, span_count) for every run,
pruned or not. The bytes pruned spans would take are not recorded by `retain`, so they
are estimated from the lake as it is now: pruned spans x bytes per span kept. The
whole warehouse is shown, not only the report window: the lake is one.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow.parquet as pq

from fleetsignals.home import Home
from fleetsignals.report.queries import fetch_dicts

REASONS = ("error", "bad_label", "cost_tail", "anomaly", "sampled", "pruned")


def query_savings(con: duckdb.DuckDBPyConnection, home: Home) -> dict[str, Any]:
    rows = fetch_dicts(
        con,
        """
        select coalesce(retention_reason, 'undecided') as reason, count(*) as runs,
            coalesce(sum(span_count), 0) as spans,
        from fct_runs
        group by all
        """,
    )
    by_reason = {row["reason"]: row for row in rows}
    ordered = [
        by_reason.get(reason, {"reason": reason, "runs": 0, "spans": 0})
        for reason in (*REASONS, "undecided")
    ]
    lake_bytes, lake_spans = _lake_size(home)
    pruned_spans = by_reason.get("pruned", {}).get("spans", 0)
    per_span = lake_bytes / lake_spans if lake_spans else None
    return {
        "reasons": ordered,
        "decided_runs": sum(r["runs"] for r in ordered if r["reason"] != "undecided"),
        "lake_bytes": lake_bytes,
        "lake_spans": lake_spans,
        "pruned_spans": pruned_spans,
        "saved_bytes_estimate": int(pruned_spans * per_span) if per_span else None,
    }


def _lake_size(home: Home) -> tuple[int, int]:
    """Bytes and rows of the live lake files (footers only: no data is read)."""
    size = rows = 0
    for path in home.lake.glob("dt=*/hr=*/*.parquet"):
        try:
            size += path.stat().st_size
            rows += pq.read_metadata(path).num_rows
        except (OSError, ValueError):  # ValueError: pyarrow cannot read it
            continue  # retention or ingest swapped the file meanwhile
    return size, rows
