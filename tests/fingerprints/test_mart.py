"""fct_run_fingerprints on small hand-built runs: real lake files, a real dbt build."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest

from fleetsignals.fingerprints.reference import RunCalls, ToolCall, run_features
from fleetsignals.home import Home
from fleetsignals.snapshot import connect_snapshot
from fleetsignals.warehouse import build
from tests.fixtures.lakefiles import config_with, span, trace_id, write_spans

T0 = datetime(2026, 11, 20, 9, 0)
DIMS = {"agent_name": "helper", "prompt_variant": "v2"}
COLUMNS = [
    "step_count",
    "llm_call_count",
    "tool_call_count",
    "distinct_tool_count",
    "tools_per_llm_call",
    "repeat_ratio",
    "backtrack_ratio",
    "tool_error_rate",
    "recovery_rate",
    "output_tokens_per_llm_call",
    "log_tokens_per_step",
    "log_duration_per_step_ms",
    "log_output_tokens",
    "tool_shares",
]


def llm(trace: str, name: str, at: float, tokens_in: int, tokens_out: int) -> dict:
    return span(trace, name, T0 + timedelta(seconds=at), 1.0, parent="root", operation="llm",
                input_tokens=tokens_in, output_tokens=tokens_out, model="gpt-4o-mini", **DIMS)  # fmt: skip


def tool(trace: str, name: str, at: float, tool_name: str, error: bool = False) -> dict:
    return span(trace, name, T0 + timedelta(seconds=at), 0.5, parent="root", operation="tool",
                tool_name=tool_name, status_code="error" if error else "unset", **DIMS)  # fmt: skip


def root(trace: str, seconds: float, status: str = "unset") -> dict:
    return span(trace, "root", T0, seconds, operation="agent", status_code=status, **DIMS)


def busy_run(t: str) -> list[dict]:
    """search, search (error), fetch, search, calc (error): a repeat, a backtrack, one error
    recovered (search succeeds later) and one not (calc never does)."""
    return [
        root(t, 20.0),
        llm(t, "l1", 0.1, 100, 10),
        tool(t, "t1", 1.2, "search"),
        tool(t, "t2", 1.8, "search", error=True),
        llm(t, "l2", 2.5, 200, 20),
        tool(t, "t3", 3.6, "fetch"),
        tool(t, "t4", 4.2, "search"),
        tool(t, "t5", 4.8, "calc", error=True),
        llm(t, "l3", 5.5, 300, 30),
    ]


def read(home, run: str) -> dict:
    with connect_snapshot(home) as con:
        row = con.execute(
            f"select {', '.join(COLUMNS)}, status from fct_run_fingerprints where run_id = ?",
            [trace_id(run)],
        ).fetchone()
    return dict(zip([*COLUMNS, "status"], row, strict=True)) if row else {}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """Hand-built runs, built; then a late tool span of run "busy2", built incrementally.
    Returns the home and run busy2's features after the first build."""
    root_dir = tmp_path_factory.mktemp("mart")
    home, config = Home(root_dir / "home").ensure(), config_with(root_dir)
    rows = busy_run("busy") + busy_run("busy2")
    rows += [root("quiet", 3.0), llm("quiet", "l1", 0.5, 50, 5)]
    rows += [root("failed", 4.0, status="error"), llm("failed", "l1", 0.5, 40, 4),
             tool("failed", "t1", 1.6, "calc", error=True)]  # fmt: skip
    rows += [llm("inflight", "l1", 0.5, 40, 4)]  # no root yet: not a completed run
    write_spans(home, rows, "hand")
    build(home, config, full_refresh=True)
    before = read(home, "busy2")
    late = tool("busy2", "t6", 6.0, "fetch")
    late["landed_at"] = T0 + timedelta(minutes=5)
    write_spans(home, [late], "late")
    build(home, config)
    return home, before


def test_features_of_hand_built_runs(built) -> None:
    home, _ = built
    busy = read(home, "busy")
    assert busy["step_count"] == 8 and busy["tool_call_count"] == 5
    assert busy["distinct_tool_count"] == 3
    assert busy["repeat_ratio"] == pytest.approx(1 / 4)
    assert busy["backtrack_ratio"] == pytest.approx(1 / 4)
    assert busy["tool_error_rate"] == pytest.approx(2 / 5)
    assert busy["recovery_rate"] == pytest.approx(1 / 2)
    assert busy["tools_per_llm_call"] == pytest.approx(5 / 3)
    assert busy["output_tokens_per_llm_call"] == pytest.approx(20.0)
    assert busy["log_tokens_per_step"] == pytest.approx(math.log1p(660 / 8))
    assert busy["log_duration_per_step_ms"] == pytest.approx(math.log1p(20000 / 8))
    assert busy["log_output_tokens"] == pytest.approx(math.log1p(60))
    assert busy["tool_shares"] == pytest.approx({"calc": 0.2, "fetch": 0.2, "search": 0.6})

    quiet = read(home, "quiet")
    assert quiet["tool_call_count"] == 0 and quiet["repeat_ratio"] == 0.0
    assert quiet["recovery_rate"] is None and quiet["tool_shares"] == {}
    failed = read(home, "failed")
    assert failed["status"] == "error" and failed["recovery_rate"] == 0.0
    assert read(home, "inflight") == {}


def test_the_reference_implementation_agrees_with_the_mart(built) -> None:
    home, _ = built
    calls = [ToolCall("search", False), ToolCall("search", True), ToolCall("fetch", False),
             ToolCall("search", False), ToolCall("calc", True)]  # fmt: skip
    expected = run_features(RunCalls(calls, 3, 600, 60, 20000.0))
    got = read(home, "busy")
    for name in COLUMNS:
        assert got[name] == pytest.approx(expected[name]), name


def test_a_late_span_updates_the_fingerprint_incrementally(built) -> None:
    home, before = built
    assert before["tool_call_count"] == 5
    busy = read(home, "busy2")
    assert busy["tool_call_count"] == 6
    assert busy["tool_shares"] == pytest.approx({"calc": 1 / 6, "fetch": 2 / 6, "search": 3 / 6})
    assert busy["backtrack_ratio"] == pytest.approx(2 / 5)
