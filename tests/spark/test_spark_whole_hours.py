"""An incremental Spark build overwrites whole partitions of the run-keyed tables (by the
runs' hour, part_at): after a late span in a past hour, every run of that hour is
recomputed, and the tables equal a full refresh. Runs after the other files of
tests/spark (pytest takes them in name order): it lands a span into the shared home."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from fleetsignals.home import Home
from fleetsignals.ingest.land import land_paths
from fleetsignals.warehouse import build
from fleetsignals.warehouse.engines import spark_vars
from fleetsignals.warehouse.runner import _home_env, _Progress, _run_dbt, dbt_vars
from tests.fixtures.ingest_inputs import attr, jsonl, request, span, write
from tests.fixtures.lakefiles import config_with
from tests.fixtures.warehouses import START, query
from tests.spark.conftest import CONFIG
from tests.spark.test_spark_parity import differences, read_options, spark_files

pytestmark = [pytest.mark.slow, pytest.mark.spark]

# The run-keyed models and what they read: partitioned by part_at on Spark.
RUN_KEYED = ("+fct_llm_calls", "+fct_tool_calls")
COMPARED = ("int_runs_assembled", "fct_llm_calls", "fct_tool_calls")
# A closed hour, inside the incremental build's lookback (lookback_minutes before the
# lake's watermark, two hours after START).
LATE_HOUR = START + timedelta(hours=1)


def late_llm_call(home: Home, root: Path, config) -> str:
    """Land an LLM call under the root of one run of LATE_HOUR; its run's id."""
    run_id, root_span, root_start_ns = query(
        home,
        "select trace_id, span_id, start_ns from spans where parent_span_id is null"
        " and trace_id in (select run_id from int_runs_assembled where part_at = ?)"
        " order by trace_id limit 1",
        [LATE_HOUR],
    )[0]
    call = span(
        0, 0, start_ns=root_start_ns + 10**9, traceId=run_id, spanId="f" * 16, parentSpanId=root_span,
        attributes=[attr("gen_ai.request.model", "gpt-4o"), attr("gen_ai.usage.input_tokens", 7)],
    )  # fmt: skip
    land_paths([write(root / "late" / "call.jsonl", jsonl([request([call])]))], home, config)
    return run_id


def build_run_keyed_on_spark(home: Home, config) -> None:
    """An incremental dbt build of RUN_KEYED on the home's Spark (the runner's Spark build
    is a full refresh until the window marts overwrite partitions too)."""
    variables = dbt_vars(home, config)
    variables.update(spark_vars(home, variables))
    with _home_env(home):
        _run_dbt(home, variables, False, False, _Progress(False), "spark", RUN_KEYED)


def stamped_by_build(home: Home) -> list[tuple]:
    """Per build id in Spark's int_runs_indexed: its runs' hours and how many runs."""
    files = spark_files(home, "int_runs_indexed")
    with duckdb.connect() as con:
        return con.execute(
            "select build_id, list(distinct part_at order by part_at), count(*)"
            f" from read_parquet(?{read_options(files)})"
            " group by build_id order by count(*)",
            [str(files)],
        ).fetchall()


def test_an_incremental_spark_build_recomputes_whole_hours(
    built_on_both: Home, tmp_path: Path
) -> None:
    home = built_on_both
    config = config_with(tmp_path, CONFIG)
    hour_runs = query(
        home, "select count(*) from int_runs_assembled where part_at = ?", [LATE_HOUR]
    )[0][0]
    run_id = late_llm_call(home, tmp_path, config)
    build_run_keyed_on_spark(home, config)
    # Every run of the late span's hour is recomputed (a partition is overwritten whole),
    # no other: the full build's id stays on the other hours' runs.
    (_, hours, count), (_, _, rest) = stamped_by_build(home)
    assert (hours, count) == ([LATE_HOUR], hour_runs) and rest > count
    # The same tables as DuckDB's full refresh of the lake with the late span (counts
    # exact, floats within 1e-9; the parity tests' comparison).
    build(home, config, full_refresh=True, run_tests=False)
    late = query(home, "select run_id from fct_llm_calls where span_id = 'ffffffffffffffff'")
    assert late == [(run_id,)]
    for table in COMPARED:
        differing = differences(home, table, spark_files(home, table))
        assert not differing, f"{table}: {differing[:5]}"
