"""Small helpers for the report's read-only queries on the snapshot."""

from __future__ import annotations

import calendar
from datetime import datetime
from typing import Any

import duckdb


def fetch_dicts(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or {})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Marts built by other stages (fingerprints) may be absent from an older snapshot."""
    found = con.execute(
        "select count(*) from information_schema.tables where table_name = $name",
        {"name": name},
    ).fetchone()
    return bool(found and found[0])


def epoch(moment: datetime) -> int:
    """Naive UTC -> unix seconds, the time unit of the charts."""
    return calendar.timegm(moment.timetuple())


def label(value: Any) -> str:
    """A dimension value as shown: a missing one reads (none), as in fct_windows_60m."""
    return "(none)" if value is None or value == "" else str(value)
