"""The warehouse against the generator's ground truth: OTLP dumps -> ingest -> dbt."""

from __future__ import annotations

from pathlib import Path

import duckdb

from fleetsignals.home import Home
from fleetsignals.snapshot import current_snapshot


def compare(home: Home, runs_parquet: Path, sql: str) -> list[tuple]:
    with duckdb.connect() as con:
        con.execute(f"attach '{current_snapshot(home)}' as w (read_only)")
        con.execute(f"create view truth as select * from read_parquet('{runs_parquet}')")
        return con.execute(sql).fetchall()


def test_every_run_is_built_once(fleet: tuple[Home, Path]) -> None:
    home, truth = fleet
    (missing, extra, total) = compare(
        home,
        truth,
        """
        select
            count(*) filter (where f.run_id is null),
            count(*) filter (where t.run_id is null),
            count(*)
        from truth as t full join w.fct_runs as f on t.run_id = f.run_id
        """,
    )[0]
    assert (missing, extra) == (0, 0)
    assert total > 250


def test_statuses_match_truth(fleet: tuple[Home, Path]) -> None:
    home, truth = fleet
    rows = compare(
        home,
        truth,
        """
        select t.status, f.status, count(*)
        from truth as t join w.fct_runs as f using (run_id)
        group by all order by all
        """,
    )
    pairs = {(t, f): n for t, f, n in rows}
    # The generator writes no root for a run still in flight; the warehouse calls it
    # running, or timeout once silent for stale_after at the watermark.
    for (t, f), _ in pairs.items():
        assert t == f or (t == "running" and f in ("running", "timeout")), pairs
    assert pairs.get(("error", "error"), 0) > 0
    assert sum(n for (t, _), n in pairs.items() if t == "running") > 0


def test_steps_tokens_and_dimensions_match_truth(fleet: tuple[Home, Path]) -> None:
    home, truth = fleet
    columns = [
        "step_count",
        "llm_call_count",
        "tool_call_count",
        "tool_error_count",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "agent_name",
        "prompt_variant",
        "workflow",
        "tenant_id",
        "user_id",
        "user_cohort",
        "session_id",
        "environment",
        "model",
        "started_at",
    ]
    checks = ", ".join(
        f"count(*) filter (where t.{c} is distinct from f.{c}) as {c}" for c in columns
    )
    row = compare(
        home, truth, f"select {checks} from truth as t join w.fct_runs as f using (run_id)"
    )[0]
    mismatches = {c: n for c, n in zip(columns, row, strict=True) if n}
    assert mismatches == {}


def test_ended_at_matches_truth_for_finished_runs(fleet: tuple[Home, Path]) -> None:
    home, truth = fleet
    (bad,) = compare(
        home,
        truth,
        """
        select count(*) from truth as t join w.fct_runs as f using (run_id)
        where t.status in ('ok', 'error') and t.ended_at is distinct from f.ended_at
        """,
    )[0]
    assert bad == 0


def test_cost_equals_truth_run_by_run(fleet: tuple[Home, Path]) -> None:
    """The truth prices calls with the warehouse's seed and rules (dated rows, cache reads
    and writes at their own prices), so a user validating costs finds them equal."""
    home, truth = fleet
    total, differing, unpriced, sample = compare(
        home,
        truth,
        """
        select
            count(*),
            count(*) filter (
                where abs(coalesce(f.cost_usd, -1) - coalesce(t.cost_usd, -1)) > 1e-9
            ),
            count(*) filter (where f.cost_usd is null or t.cost_usd is null),
            list([f.run_id, f.cost_usd::varchar, t.cost_usd::varchar])
                filter (where abs(coalesce(f.cost_usd, -1) - coalesce(t.cost_usd, -1)) > 1e-9)[1:3]
        from truth as t join w.fct_runs as f using (run_id)
        """,
    )[0]
    assert (differing, unpriced) == (0, 0), sample
    assert total > 250
