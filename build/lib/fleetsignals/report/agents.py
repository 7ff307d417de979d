"""Per agent: rolling 60-minute P95 run cost and P99 depth (steps) from fct_windows_60m."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from fleetsignals.report.queries import epoch, fetch_dicts
from fleetsignals.report.window import Window


@dataclass
class AgentSeries:
    name: str
    peak_runs: int  # most runs in one 60-minute window (orders the agents)
    cost_p95: list[float | None] = field(default_factory=list)
    steps_p99: list[float | None] = field(default_factory=list)


@dataclass
class AgentWindows:
    t: list[int]  # window ends, unix seconds, every 5 minutes (the fleet rows' grid)
    agents: list[AgentSeries]


def query_agent_windows(con: duckdb.DuckDBPyConnection, window: Window) -> AgentWindows:
    """One aligned series per agent; a window without runs of the agent is a gap (None)."""
    params = {"start": window.start, "end": window.end}
    ends = [
        row["window_end_at"]
        for row in fetch_dicts(
            con,
            "select window_end_at from fct_windows_60m "
            "where dimension = 'fleet' and window_end_at between $start and $end "
            "order by window_end_at",
            params,
        )
    ]
    rows = fetch_dicts(
        con,
        """
        select dimension_value as agent_name, window_end_at, run_count, cost_usd_p95,
            step_count_p99,
        from fct_windows_60m
        where dimension = 'agent_name' and window_end_at between $start and $end
        """,
        params,
    )
    position = {moment: i for i, moment in enumerate(ends)}
    agents: dict[str, AgentSeries] = {}
    for row in rows:
        i = position.get(row["window_end_at"])
        if i is None:
            continue
        series = agents.get(row["agent_name"])
        if series is None:
            series = agents[row["agent_name"]] = AgentSeries(
                row["agent_name"], 0, [None] * len(ends), [None] * len(ends)
            )
        if row["run_count"]:
            series.cost_p95[i] = _number(row["cost_usd_p95"])
            series.steps_p99[i] = _number(row["step_count_p99"])
            series.peak_runs = max(series.peak_runs, row["run_count"])
    busiest = sorted(agents.values(), key=lambda a: (-a.peak_runs, a.name))
    return AgentWindows([epoch(moment) for moment in ends], busiest)


def _number(value: object) -> float | None:
    return None if value is None else float(value)
