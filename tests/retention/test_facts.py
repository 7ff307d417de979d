"""Facts stay whole: real dbt builds before and after pruning, and a full refresh after it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fleetsignals.config import load_config
from fleetsignals.home import Home
from fleetsignals.retention import retain
from fleetsignals.snapshot import connect_snapshot
from fleetsignals.warehouse import build
from tests.fixtures.retention_lakes import synthetic_home

START = datetime(2026, 11, 26, 0, 0)
AGGREGATES = """
select
    count(*), count(*) filter (where status = 'error'), sum(step_count), sum(llm_call_count),
    sum(tool_call_count), sum(tool_error_count), sum(input_tokens), sum(output_tokens),
    round(sum(cost_usd), 9), min(started_at), max(ended_at)
from fct_runs
"""
PER_RUN = """
select run_id, status, step_count, input_tokens, output_tokens, round(cost_usd, 9), agent_name,
    started_at, ended_at
from fct_runs
"""


def _query(home: Home, sql: str) -> list[tuple]:
    with connect_snapshot(home) as con:
        return sorted(con.execute(sql).fetchall(), key=repr)


@pytest.mark.slow
def test_aggregates_survive_pruning_and_a_full_refresh(tmp_path: Path, monkeypatch) -> None:
    home = Home(tmp_path / "home").ensure()
    monkeypatch.setenv("FLEETSIGNALS_HOME", str(home.root))
    synthetic_home(home.root, START, hours=3, slice_minutes=30, runs_per_minute=8)
    config_path = tmp_path / "fleetsignals.yml"
    config_path.write_text("retention:\n  reevaluate_signals: false\n")
    config = load_config(config_path)
    build(home, config)
    aggregates, per_run = _query(home, AGGREGATES), _query(home, PER_RUN)

    summary = retain(home, config, START + timedelta(hours=3, minutes=30))
    pruned = summary.decided["pruned"].runs
    assert pruned > 500 and summary.spans_pruned > 0

    build(home, config)
    assert _query(home, AGGREGATES) == aggregates
    assert _query(home, PER_RUN) == per_run
    reasons = dict(_query(home, "select retention_reason, count(*) from fct_runs group by all"))
    assert reasons["pruned"] == pruned
    assert reasons["error"] == summary.decided["error"].runs
    # The decided runs' weights sum to an estimate of their count (sampled at 1 / 10 %).
    decided, estimate = _query(
        home,
        "select count(*), sum(sample_weight) from fct_runs where retention_reason is not null",
    )[0]
    assert estimate == pytest.approx(decided, rel=0.25)

    build(home, config, full_refresh=True)
    assert _query(home, AGGREGATES) == aggregates
    assert _query(home, PER_RUN) == per_run
    assert (
        dict(_query(home, "select retention_reason, count(*) from fct_runs group by all"))
        == reasons
    )
