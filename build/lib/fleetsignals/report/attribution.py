"""Cost attribution by tenant, prompt variant, workflow and tool.

Cost is carried by LLM calls, not tools, so a run's cost is split evenly over its tool
calls to attribute it to tools (a run that called search 3 times and fetch once gives
3/4 of its cost to search); runs without tool calls count as "(no tool calls)". The
tool figures therefore add up to the same total as the other dimensions.
"""

from __future__ import annotations

from typing import Any

import duckdb

from fleetsignals.report.overview import KNOWN_COST
from fleetsignals.report.queries import fetch_dicts, label
from fleetsignals.report.window import Window

DIMENSIONS = ("tenant_id", "prompt_variant", "workflow", "tool_name")
TOP = 12  # bars per dimension; the rest is summed into "(other)"
TOP_COMBINATIONS = 25

# One row per (run, tool) with the run's cost share; a run without tool calls has one row.
_SHARES = f"""
with runs as (
    select run_id, tenant_id, prompt_variant, workflow, tool_call_count,
        {KNOWN_COST} as cost_usd,
    from fct_runs
    where started_at between $start and $end
),
calls as (
    select run_id, tool_name, count(*) as calls
    from fct_tool_calls
    where run_id in (select run_id from runs)
    group by all
),
shares as (
    select
        runs.run_id, runs.tenant_id, runs.prompt_variant, runs.workflow,
        coalesce(calls.tool_name, '(no tool calls)') as tool_name,
        case
            when calls.calls is null then runs.cost_usd
            else runs.cost_usd * calls.calls / sum(calls.calls) over (partition by runs.run_id)
        end as cost_usd,
        coalesce(calls.calls, 0) as tool_calls,
    from runs
    left join calls on calls.run_id = runs.run_id
)
"""


def query_attribution(con: duckdb.DuckDBPyConnection, window: Window) -> dict[str, Any]:
    """``{"total", "by": {dimension: rows}, "combinations": rows}``; rows sorted by cost."""
    params = {"start": window.start, "end": window.end}
    total = con.execute(
        f"select coalesce(sum({KNOWN_COST}), 0), count(*) from fct_runs "
        "where started_at between $start and $end",
        params,
    ).fetchone()
    by: dict[str, list[dict[str, Any]]] = {}
    for dimension in DIMENSIONS:
        runs = "count(distinct run_id)"
        rows = fetch_dicts(
            con,
            _SHARES + f"select {dimension} as value, sum(cost_usd) as cost_usd, {runs} as runs "
            "from shares group by all order by cost_usd desc, value",
            params,
        )
        by[dimension] = _top(rows, TOP)
    combinations = fetch_dicts(
        con,
        _SHARES
        + """
        select tenant_id, prompt_variant, workflow, tool_name,
            sum(cost_usd) as cost_usd, count(distinct run_id) as runs,
            sum(tool_calls) as tool_calls,
        from shares
        group by all
        order by cost_usd desc, tenant_id, prompt_variant, workflow, tool_name
        limit $limit
        """,
        {**params, "limit": TOP_COMBINATIONS},
    )
    for row in combinations:
        for dimension in DIMENSIONS:
            row[dimension] = label(row[dimension])
    return {"total": float(total[0]), "runs": total[1], "by": by, "combinations": combinations}


def _top(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    shown = [
        {"value": label(r["value"]), "cost_usd": float(r["cost_usd"] or 0), "runs": r["runs"]}
        for r in rows[:limit]
    ]
    rest = rows[limit:]
    if rest:
        shown.append(
            {
                "value": f"(other {len(rest)})",
                "cost_usd": float(sum(r["cost_usd"] or 0 for r in rest)),
                "runs": None,  # runs overlap across tools; a sum would double count
            }
        )
    return shown
