"""The costliest runs and the runs that looked stuck, each with its tool-call sequence."""

from __future__ import annotations

from typing import Any

import duckdb

from fleetsignals.report.overview import KNOWN_COST
from fleetsignals.report.queries import fetch_dicts, label
from fleetsignals.report.window import Window

TOP = 10
MAX_STEPS = 40  # sequence items shown per run (after repeats are folded)

_COLUMNS = f"""
    run_id, agent_name, prompt_variant, workflow, tenant_id, status, started_at,
    duration_ms, step_count, tool_call_count, tool_error_count, max_tool_streak,
    {KNOWN_COST} as cost_usd, cost_usd is null as is_partly_unpriced, retention_reason,
"""


def query_costliest(con: duckdb.DuckDBPyConnection, window: Window) -> list[dict[str, Any]]:
    rows = fetch_dicts(
        con,
        f"select {_COLUMNS} from fct_runs where started_at between $start and $end "
        "order by cost_usd desc, run_id limit $limit",
        {"start": window.start, "end": window.end, "limit": TOP},
    )
    return _with_sequences(con, rows)


def query_stuck(
    con: duckdb.DuckDBPyConnection, window: Window, flagged: dict[str, str]
) -> list[dict[str, Any]]:
    """Runs a signal named by run_id (``flagged``: run id -> signal), then timed-out runs,
    then, to fill the table, the runs with the longest streak of one tool (``why`` says
    which; no threshold of our own decides what counts as stuck)."""
    rows = fetch_dicts(
        con,
        f"""
        select {_COLUMNS}
            list_contains($flagged, run_id) as is_flagged,
        from fct_runs
        where started_at between $start and $end
        order by is_flagged desc, status = 'timeout' desc, max_tool_streak desc,
            step_count desc, run_id
        limit $limit
        """,
        {"start": window.start, "end": window.end, "limit": TOP, "flagged": sorted(flagged)},
    )
    for row in rows:
        if row["is_flagged"]:
            row["why"] = f"flagged by {flagged[row['run_id']]}"
        elif row["status"] == "timeout":
            row["why"] = "timed out"
        else:
            row["why"] = f"{row['max_tool_streak']} calls of one tool in a row"
    return _with_sequences(con, rows)


def _with_sequences(
    con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    calls = fetch_dicts(
        con,
        "select run_id, tool_name, is_error from fct_tool_calls "
        "where list_contains($ids, run_id) order by run_id, call_index",
        {"ids": [r["run_id"] for r in rows]},
    )
    by_run: dict[str, list[dict[str, Any]]] = {}
    for call in calls:
        by_run.setdefault(call["run_id"], []).append(call)
    for row in rows:
        row["sequence"] = fold_sequence(by_run.get(row["run_id"], []))
        for dimension in ("agent_name", "prompt_variant", "workflow", "tenant_id"):
            row[dimension] = label(row[dimension])
    return rows


def fold_sequence(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive calls of one tool fold into one item with a count (loops stand out)."""
    folded: list[dict[str, Any]] = []
    for call in calls:
        errors = 1 if call["is_error"] else 0
        if folded and folded[-1]["tool"] == call["tool_name"]:
            folded[-1]["count"] += 1
            folded[-1]["errors"] += errors
        else:
            folded.append({"tool": call["tool_name"], "count": 1, "errors": errors})
    if len(folded) > MAX_STEPS:
        hidden = sum(item["count"] for item in folded[MAX_STEPS:])
        folded = [*folded[:MAX_STEPS], {"tool": f"… {hidden} more calls", "count": 0, "errors": 0}]
    return folded
