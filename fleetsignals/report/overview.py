"""Fleet overview: totals over the window and runs, error rate and cost per hour."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import duckdb

from fleetsignals.report.queries import epoch, fetch_dicts
from fleetsignals.report.window import Window

# Known cost: the priced part of a run whose cost is null because some call is unpriced.
KNOWN_COST = "coalesce(cost_usd, priced_cost_usd, 0)"


def query_totals(con: duckdb.DuckDBPyConnection, window: Window) -> dict[str, Any]:
    totals = fetch_dicts(
        con,
        f"""
        select
            count(*) as runs,
            count(*) filter (where status = 'ok') as ok_runs,
            count(*) filter (where status = 'error') as error_runs,
            count(*) filter (where status = 'timeout') as timeout_runs,
            count(*) filter (where status = 'running') as running_runs,
            coalesce(sum({KNOWN_COST}), 0) as cost_usd,
            count(*) filter (where cost_usd is null) as unpriced_runs,
            coalesce(sum(unpriced_call_count), 0) as unpriced_calls,
            count(distinct agent_name) as agents,
            coalesce(sum(llm_call_count), 0) as llm_calls,
            coalesce(sum(tool_call_count), 0) as tool_calls,
            coalesce(sum(input_tokens), 0) as input_tokens,
            coalesce(sum(output_tokens), 0) as output_tokens,
        from fct_runs
        where started_at between $start and $end
        """,
        {"start": window.start, "end": window.end},
    )[0]
    finished = totals["ok_runs"] + totals["error_runs"] + totals["timeout_runs"]
    failed = totals["error_runs"] + totals["timeout_runs"]
    totals["error_rate"] = failed / finished if finished else None
    totals["unpriced_models"] = [
        row["model"]
        for row in fetch_dicts(
            con, "select model from dim_unpriced_models order by call_count desc"
        )
    ]
    return totals


def query_hourly(con: duckdb.DuckDBPyConnection, window: Window) -> dict[str, list]:
    """Per hour of start: runs, failed runs (error or timeout), error rate, known cost.

    Hours without runs are present with zeros, so a quiet hour reads as quiet, not missing.
    """
    rows = fetch_dicts(
        con,
        f"""
        select
            date_trunc('hour', started_at) as hour_at,
            count(*) as runs,
            count(*) filter (where status in ('error', 'timeout')) as failed,
            count(*) filter (where status <> 'running') as finished,
            sum({KNOWN_COST}) as cost_usd,
        from fct_runs
        where started_at between $start and $end
        group by 1
        order by 1
        """,
        {"start": window.start, "end": window.end},
    )
    by_hour = {row["hour_at"]: row for row in rows}
    hour = window.start.replace(minute=0, second=0, microsecond=0)
    series: dict[str, list] = {"t": [], "runs": [], "failed": [], "error_rate": [], "cost": []}
    while hour <= window.end:
        row = by_hour.get(hour, {"runs": 0, "failed": 0, "finished": 0, "cost_usd": 0.0})
        series["t"].append(epoch(hour))
        series["runs"].append(row["runs"])
        series["failed"].append(row["failed"])
        series["error_rate"].append(row["failed"] / row["finished"] if row["finished"] else None)
        series["cost"].append(float(row["cost_usd"] or 0.0))
        hour += timedelta(hours=1)
    return series
