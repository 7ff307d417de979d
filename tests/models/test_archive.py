"""Run facts survive span pruning: archived facts, retention decisions, full refreshes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from fleetsignals.home import Home
from fleetsignals.warehouse import archive_run_facts, build, write_retention_decisions
from tests.fixtures.lakefiles import config_with
from tests.fixtures.warehouses import copy_home, query

TOTALS = """
    select count(*), sum(step_count), sum(input_tokens), round(sum(cost_usd), 9),
        count(*) filter (where status = 'ok'), sum(tool_error_count)
    from fct_runs
"""


# A run's facts, with sums of doubles compared to 1e-12 (their order of addition varies).
SAME_RUN = """
    select * exclude (watermark_at, retention_decided_at, is_archived)
        replace (round(cost_usd, 12) as cost_usd, round(priced_cost_usd, 12) as priced_cost_usd)
    from fct_runs where run_id = ?
"""


def prune_spans(home: Home, run_ids: list[str]) -> int:
    """Remove these runs' spans from the lake, rewriting each file (as retention would)."""
    removed = 0
    with duckdb.connect() as con:
        con.execute("create table gone (run_id varchar)")
        con.executemany("insert into gone values (?)", [(r,) for r in run_ids])
        for path in sorted(home.lake.glob("*/*/*.parquet")):
            before = con.execute(f"select count(*) from read_parquet('{path}')").fetchone()[0]
            tmp = path.with_name(path.name + ".tmp")
            con.execute(
                f"copy (select * from read_parquet('{path}') "
                "where trace_id not in (select run_id from gone)) "
                f"to '{tmp}' (format parquet)"
            )
            after = con.execute(f"select count(*) from read_parquet('{tmp}')").fetchone()[0]
            tmp.replace(path)
            removed += before - after
    return removed


def test_pruned_runs_keep_their_facts_through_full_refresh(
    synthetic_home: Home, tmp_path: Path
) -> None:
    home = copy_home(synthetic_home, tmp_path / "home")
    config = config_with(tmp_path)
    totals = query(home, TOTALS)
    calls = query(home, "select count(*), round(sum(cost_usd), 9) from fct_llm_calls")
    tool_calls = query(home, "select count(*), sum(streak_position) from fct_tool_calls")
    pruned = [
        r[0]
        for r in query(
            home, "select run_id from fct_runs where status = 'ok' order by run_id limit 500"
        )
    ]

    written = archive_run_facts(home, pruned)
    assert written["runs"] == 500 and written["llm_calls"] > 500 and written["tool_calls"] > 0
    decided = datetime(2026, 11, 20, 5)
    write_retention_decisions(home, [(r, "pruned", 10.0) for r in pruned], decided)
    assert prune_spans(home, pruned) > 1000

    build(home, config)  # incremental: nothing recomputed, decisions joined in
    assert query(home, TOTALS) == totals
    reasons = query(
        home,
        "select retention_reason, sample_weight, count(*) from fct_runs group by all order by all",
    )
    assert reasons == [("pruned", 10.0, 500), (None, 1.0, totals[0][0] - 500)]

    build(home, config, full_refresh=True)  # the lake alone no longer has these runs
    assert query(home, TOTALS) == totals
    assert query(home, "select count(*), round(sum(cost_usd), 9) from fct_llm_calls") == calls
    assert query(home, "select count(*), sum(streak_position) from fct_tool_calls") == tool_calls
    assert query(home, "select count(*) from fct_runs where is_archived") == [(500,)]
    assert query(
        home,
        "select count(*) from spans where trace_id in (select run_id from fct_runs where is_archived)",
    ) == [(0,)]
    # Windows are built from facts, so they do not move either.
    assert query(
        home, "select sum(run_count) from fct_windows_60m where dimension = 'fleet'"
    ) == query(
        synthetic_home, "select sum(run_count) from fct_windows_60m where dimension = 'fleet'"
    )


def test_archived_runs_are_repriced_by_a_full_build(synthetic_home: Home, tmp_path: Path) -> None:
    home = copy_home(synthetic_home, tmp_path / "home")
    config = config_with(tmp_path)
    pruned = [
        r[0]
        for r in query(
            home,
            "select run_id from fct_runs where model = 'gpt-4o-mini' and cost_usd > 0 limit 50",
        )
    ]
    archive_run_facts(home, pruned)
    prune_spans(home, pruned)
    (home.root / "prices").mkdir()
    (home.root / "prices" / "p.csv").write_text(
        "provider,model_pattern,host,valid_from,input_usd_per_mtok,output_usd_per_mtok,"
        "cache_read_usd_per_mtok,cache_write_usd_per_mtok,source_url\n"
        "openai,gpt-4o-mini,openai,2020-01-01,1000000,0,1000000,,\n",
        encoding="utf-8",
    )
    build(home, config, full_refresh=True, run_tests=False)
    rows = query(
        home,
        "select min(cost_usd = input_tokens), count(*) from fct_runs where list_contains(?, run_id)",
        [pruned],
    )
    assert rows == [(True, 50)]


def test_a_late_span_of_a_pruned_run_does_not_replace_its_facts(
    synthetic_home: Home, tmp_path: Path
) -> None:
    home = copy_home(synthetic_home, tmp_path / "home")
    config = config_with(tmp_path)
    (run,) = query(home, "select run_id from fct_runs where status = 'ok' order by run_id limit 1")[
        0
    ]
    before = query(home, SAME_RUN, [run])
    archive_run_facts(home, [run])
    # Keep one span of the run (as if it landed after pruning), drop the rest.
    kept = tmp_path / "late.parquet"
    with duckdb.connect() as con:
        con.execute(
            f"copy (select * from read_parquet('{home.lake}/*/*/*.parquet') "
            f"where trace_id = ? limit 1) to '{kept}' (format parquet)",
            [run],
        )
    prune_spans(home, [run])
    kept.rename(home.lake / "dt=2026-11-20" / "hr=01" / "late.parquet")
    build(home, config, full_refresh=True, run_tests=False)
    after = query(home, SAME_RUN, [run])
    assert after == before


def test_tool_calls_archived_before_the_args_hash_rename_still_read(
    synthetic_home: Home, tmp_path: Path
) -> None:
    home = copy_home(synthetic_home, tmp_path / "home")
    hashed = """
        select run_id, span_id, tool_args_hash from fct_tool_calls
        where tool_args_hash is not null and list_contains(?, run_id) order by all
    """
    runs = [
        r[0]
        for r in query(
            home,
            "select distinct run_id from fct_tool_calls where tool_args_hash is not null "
            "order by run_id limit 40",
        )
    ]
    old, new = runs[:20], runs[20:]
    before = query(home, hashed, [runs])
    assert len(before) >= 40
    archive_run_facts(home, old)
    # Rewrite that archive as an older release wrote it: the column was called args_hash.
    (written,) = (home.facts / "tool_calls").glob("*.parquet")
    table = pq.read_table(written)
    renamed = table.rename_columns(
        ["args_hash" if name == "tool_args_hash" else name for name in table.column_names]
    )
    assert "tool_args_hash" not in renamed.column_names
    pq.write_table(renamed, written)
    prune_spans(home, old)

    build(home, config_with(tmp_path), full_refresh=True, run_tests=False)  # old files only
    assert query(home, hashed, [old]) == [row for row in before if row[0] in old]

    archive_run_facts(home, new)  # a file of each shape in the archive now
    prune_spans(home, new)
    build(home, config_with(tmp_path), full_refresh=True, run_tests=False)
    assert query(home, hashed, [runs]) == before
    assert query(home, "select count(*) from fct_runs where is_archived") == [(40,)]
