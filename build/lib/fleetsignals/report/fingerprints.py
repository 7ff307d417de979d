"""Fingerprint distance over time per agent x prompt variant (fct_fingerprint_windows)."""

from __future__ import annotations

from typing import Any

import duckdb

from fleetsignals.report.queries import epoch, fetch_dicts, has_table, label
from fleetsignals.report.window import Window

TOP = 8  # pairs drawn: those that came closest to (or crossed) the threshold


def query_fingerprints(con: duckdb.DuckDBPyConnection, window: Window) -> dict[str, Any] | None:
    """Aligned distance series of the pairs with the largest distance; None without the mart."""
    if not has_table(con, "fct_fingerprint_windows"):
        return None
    rows = fetch_dicts(
        con,
        """
        select window_end_at, agent_name, prompt_variant, distance, distance_threshold,
            is_alert,
        from fct_fingerprint_windows
        where window_end_at between $start and $end
        order by window_end_at
        """,
        {"start": window.start, "end": window.end},
    )
    ends = sorted({row["window_end_at"] for row in rows})
    position = {moment: i for i, moment in enumerate(ends)}
    pairs: dict[str, dict[str, Any]] = {}
    thresholds = set()
    for row in rows:
        name = f"{label(row['agent_name'])} / {label(row['prompt_variant'])}"
        pair = pairs.setdefault(
            name, {"name": name, "distance": [None] * len(ends), "peak": 0.0, "alerts": 0}
        )
        if row["distance"] is not None:
            distance = float(row["distance"])
            pair["distance"][position[row["window_end_at"]]] = distance
            pair["peak"] = max(pair["peak"], distance)
        pair["alerts"] += 1 if row["is_alert"] else 0
        if row["distance_threshold"] is not None:
            thresholds.add(float(row["distance_threshold"]))
    measured = [p for p in pairs.values() if any(d is not None for d in p["distance"])]
    measured.sort(key=lambda p: (-p["alerts"], -p["peak"], p["name"]))
    return {
        "t": [epoch(moment) for moment in ends],
        "pairs": measured[:TOP],
        "pair_count": len(pairs),
        "unmeasured": len(pairs) - len(measured),
        "threshold": max(thresholds) if thresholds else None,
    }
