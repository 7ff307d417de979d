"""Hand-made tables for the shipped signals' statistics: the contract columns they read,
the real loader and the real evaluator on an in-memory DuckDB."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from fleetsignals.alerts.definitions import Signal, load_signals
from fleetsignals.alerts.evaluation import Sample, evaluate_signal

SIGNALS = Path(__file__).resolve().parents[2] / "signals"
T = datetime(2026, 11, 1, 12, 0)

RUN_COLUMNS = (
    "run_id varchar, agent_name varchar, prompt_variant varchar, user_cohort varchar, "
    "model varchar, tenant_id varchar, workflow varchar, environment varchar, "
    "user_id varchar, session_id varchar, started_at timestamp, ended_at timestamp, "
    "last_span_at timestamp, status varchar, step_count integer, cost_usd double"
)
TOOL_COLUMNS = (
    "run_id varchar, span_id varchar, tool_name varchar, tool_args_hash varchar, "
    "started_at timestamp, ended_at timestamp, is_error boolean"
)

# What stuck_agent and data_stale read from the lake: the service's data horizon.
SPAN_COLUMNS = (
    "trace_id varchar, service_name varchar, end_at timestamp, landed_at timestamp, "
    "dt date, hr integer"
)


def tables() -> Iterator[duckdb.DuckDBPyConnection]:
    """Empty tables with the contract columns the shipped signals read."""
    with duckdb.connect() as connection:
        connection.execute(f"create table fct_runs ({RUN_COLUMNS})")
        connection.execute(f"create table fct_tool_calls ({TOOL_COLUMNS})")
        connection.execute("create table fct_llm_calls (run_id varchar, ended_at timestamp)")
        connection.execute(f"create table spans ({SPAN_COLUMNS})")
        yield connection


def add_span(con: duckdb.DuckDBPyConnection, trace_id: str, end_at: datetime) -> None:
    """A span of service `svc` that ended at `end_at` and landed at once."""
    con.execute(
        "insert into spans values ($t, 'svc', $e, $e, cast($e as date), hour($e))",
        {"t": trace_id, "e": end_at},
    )


def shipped(name: str, **params: object) -> Signal:
    loaded, problems = load_signals([SIGNALS], names=[name])
    assert not problems, problems
    signal = loaded[0]
    return dataclasses.replace(signal, params={**signal.params, **params})


def evaluate(con: duckdb.DuckDBPyConnection, signal: Signal) -> list[Sample]:
    result = evaluate_signal(con, signal, T)
    assert result.error is None, result.error
    return result.samples


def add_run(
    con: duckdb.DuckDBPyConnection, run_id: str, ended_at: datetime, **cols: object
) -> None:
    row = {
        "run_id": run_id,
        "agent_name": "agent",
        "prompt_variant": "v1",
        "user_cohort": "free",
        "model": "m1",
        "tenant_id": None,
        "workflow": None,
        "environment": None,
        "started_at": ended_at - timedelta(minutes=1),
        "ended_at": ended_at,
        "last_span_at": ended_at,
        "status": "ok",
        "step_count": 5,
        "cost_usd": 0.01,
        **cols,
    }
    con.execute(
        f"insert into fct_runs by name select {', '.join(f'${k} as {k}' for k in row)}", row
    )
