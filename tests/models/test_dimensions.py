"""The dimension mapping of the config is honoured, and a full refresh applies it to history."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from fleetsignals.home import Home
from fleetsignals.warehouse import build
from tests.fixtures.lakefiles import config_with, span, trace_id, write_spans
from tests.fixtures.warehouses import START, copy_home, query


def test_changed_mapping_applies_to_history_on_full_refresh(
    synthetic_home: Home, tmp_path: Path
) -> None:
    home = copy_home(synthetic_home, tmp_path / "home")
    before = {r[0] for r in query(home, "select distinct user_cohort from fct_runs")}
    assert before == {"enterprise", "free"}
    config = config_with(tmp_path, "dimensions:\n  user_cohort: [app.customer_tier]\n")
    build(home, config, full_refresh=True, run_tests=False)
    after = {r[0] for r in query(home, "select distinct user_cohort from fct_runs")}
    assert after == {"gold", "silver"}
    calls = {r[0] for r in query(home, "select distinct user_cohort from fct_llm_calls")}
    assert calls == {"gold", "silver"}
    windows = {
        r[0]
        for r in query(
            home,
            "select distinct dimension_value from fct_windows_60m where dimension = 'user_cohort'",
        )
    }
    assert windows == {"gold", "silver"}


def test_run_dimension_from_root_else_earliest_span_else_resource(
    make_home, tmp_path: Path
) -> None:
    home = make_home()
    t0 = START
    rows = [
        # Root without agent attribute, resource service name "svc-a".
        span("r1", "root", t0, 10, resource_attributes='{"service.name": "svc-a"}',
             attributes='{"tenant.id": "t-root"}'),
        # Children: the earliest with an agent name wins over a later one.
        span("r1", "c1", t0 + timedelta(seconds=1), 1, parent="root",
             attributes='{"gen_ai.agent.name": "early", "tenant.id": "t-child"}'),
        span("r1", "c2", t0 + timedelta(seconds=2), 1, parent="root",
             attributes='{"gen_ai.agent.name": "late"}'),
        # A run with no agent attribute anywhere: the resource's service.name.
        span("r2", "root", t0, 5, resource_attributes='{"service.name": "svc-b", "deployment.environment.name": "staging"}'),
    ]  # fmt: skip
    write_spans(home, rows, "dims")
    build(home, config_with(tmp_path))
    got = dict(
        (r[0], r[1:])
        for r in query(home, "select run_id, agent_name, tenant_id, environment from fct_runs")
    )
    assert got[trace_id("r1")] == ("early", "t-root", None)
    assert got[trace_id("r2")] == ("svc-b", None, "staging")
    spans = dict(
        query(home, "select name, agent_name from spans where trace_id = ?", [trace_id("r1")])
    )
    assert spans == {"root": "svc-a", "c1": "early", "c2": "late"}


def test_a_new_dimension_flows_to_spans_runs_and_calls(make_home, tmp_path: Path) -> None:
    # What one more line in fleetsignals.contract hands dbt: one more key in var
    # `dimensions`. No model or macro names the dimensions a run carries.
    home = make_home()
    rows = [
        span("r1", "root", START, 10, attributes='{"team.name": "payments"}'),
        span("r1", "call", START + timedelta(seconds=1), 1, parent="root", operation="llm",
             model="gpt-4o", input_tokens=10, output_tokens=5),
        span("r2", "root", START, 5, resource_attributes='{"service.name": "svc", "team": "search"}'),
    ]  # fmt: skip
    write_spans(home, rows, "team")
    config = config_with(tmp_path)
    keys = {**config.dimension_keys, "team": ["team.name", "resource:team"]}
    build(home, replace(config, dimension_keys=keys), run_tests=False)
    runs = dict(query(home, "select run_id, team from fct_runs"))
    assert runs == {trace_id("r1"): "payments", trace_id("r2"): "search"}
    assert query(home, "select team from fct_llm_calls") == [("payments",)]
    spans = dict(query(home, "select name, team from spans where trace_id = ?", [trace_id("r1")]))
    assert spans == {"root": "payments", "call": None}
