"""End to end: generated dumps land in the lake with nothing quarantined, and the
lake says what runs.parquet says."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from fleetsignals.generate import generate_fleet
from fleetsignals.home import Home


@pytest.mark.slow
@pytest.mark.parametrize("compression", ["none"])
def test_generated_dumps_ingest_cleanly(
    run_cli, home: Home, tmp_path: Path, compression: str
) -> None:
    truth = generate_fleet(
        tmp_path / "fleet",
        start=datetime(2026, 11, 1),
        hours=1,
        runs_per_minute=4,
        seed=11,  # has GenAI, pre-1.37 GenAI and OpenInference agents, sub-agents, staging
        incidents=[("stuck_runs", "20m", "20m"), ("tool_failure", "42m", "15m")],
        compression=compression,
    )
    result = run_cli("ingest", str(truth.dumps))
    assert result.exit_code == 0, result.output
    assert not home.quarantine.exists() or not any(home.quarantine.iterdir())
    with duckdb.connect() as con:
        # A view cannot take a bound parameter: register the relation instead.
        con.register(
            "spans", con.read_parquet(str(home.lake / "**" / "*.parquet"), hive_partitioning=True)
        )
        assert con.execute("select count(*) from spans").fetchone()[0] == truth.spans
        mismatched = con.execute(
            """
            with lake as (
                select
                    trace_id as run_id,
                    count(*) filter (where operation = 'llm') as llm_calls,
                    count(*) filter (where operation = 'tool') as tool_calls,
                    count(*) filter (where operation = 'tool' and status_code = 'error') as tool_errors,
                    coalesce(sum(input_tokens) filter (where operation = 'llm'), 0) as input_tokens,
                    coalesce(sum(output_tokens) filter (where operation = 'llm'), 0) as output_tokens,
                    coalesce(sum(cache_read_tokens) filter (where operation = 'llm'), 0) as cache_read,
                    max(environment) as environment,
                    max(agent_name) filter (where parent_span_id is null) as agent_name,
                    max(prompt_variant) filter (where parent_span_id is null) as prompt_variant,
                    max(user_cohort) filter (where parent_span_id is null) as user_cohort,
                    max(tenant_id) filter (where parent_span_id is null) as tenant_id,
                    count(*) filter (where parent_span_id is null) as roots
                from spans
                group by 1
            )
            select count(*)
            from lake
            full outer join read_parquet(?) as truth using (run_id)
            where lake.llm_calls is distinct from truth.llm_call_count
                or lake.tool_calls is distinct from truth.tool_call_count
                or lake.tool_errors is distinct from truth.tool_error_count
                or lake.input_tokens is distinct from truth.input_tokens
                or lake.output_tokens is distinct from truth.output_tokens
                or lake.cache_read is distinct from truth.cache_read_tokens
                or lake.environment is distinct from truth.environment
                or (lake.roots = 0) is distinct from (truth.status = 'running')
                or (lake.roots = 1 and (
                    lake.agent_name is distinct from truth.agent_name
                    or lake.prompt_variant is distinct from truth.prompt_variant
                    or lake.user_cohort is distinct from truth.user_cohort
                    or lake.tenant_id is distinct from truth.tenant_id))
            """,
            [str(truth.runs_path)],
        ).fetchone()[0]
    assert mismatched == 0
