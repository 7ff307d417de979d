"""The same lake built on DuckDB and on Spark gives the same tables: counts exact, floats
within 1e-9 relative. The Spark side is read from the Parquet files Spark wrote."""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import pytest

from fleetsignals.errors import FleetsignalsError
from fleetsignals.home import Home
from fleetsignals.warehouse.engines import spark_table_files, spark_tables, spark_view_exports
from fleetsignals.warehouse.runner import SPARK_PUBLISHED_VIEWS, build_on_spark
from tests.fixtures.lakefiles import config_with
from tests.fixtures.synthetic import write_synthetic_lake
from tests.fixtures.warehouses import START, query
from tests.spark.conftest import CYCLE_RUN, spark_snapshot

pytestmark = [pytest.mark.slow, pytest.mark.spark]

# Table -> its key. build_id is the dbt invocation's id, different in every build.
TABLES = {
    "fct_llm_calls": ("run_id", "span_id"),
    "fct_tool_calls": ("run_id", "span_id"),
    "int_runs_assembled": ("run_id",),
    "fct_runs": ("run_id",),
    "fct_labels": ("label_id",),
    "fct_run_scores": ("run_id", "name", "source"),
    "int_window_ends_planned": ("window_end_at",),
    # agent_name is null on groups that pool agents: both sides sort nulls last (DuckDB).
    "fct_windows_60m": ("window_end_at", "dimension", "agent_name", "dimension_value"),
    "fct_quality_windows_60m": ("window_end_at", "dimension", "dimension_value", "name", "source"),
}
PER_BUILD = {"build_id"}
# The run-keyed tables are partitioned by their runs' hour on Spark (partitioned_by).
PARTITION = "part_at"
# The judged runs (conftest.land_quality); the window ends of two hours, 5 minutes apart.
MIN_ROWS = {"fct_labels": 6, "fct_run_scores": 5, "int_window_ends_planned": 20}


def spark_files(home: Home, table: str) -> Path:
    """The Parquet files of `table` as Spark wrote it (a view: as the Spark build exported
    it for publishing)."""
    if table in SPARK_PUBLISHED_VIEWS:
        return spark_view_exports(home) / table / "*.parquet"
    directory = spark_tables(home) / "fleetsignals.db" / table
    if any(directory.glob(f"{PARTITION}=*")):
        return directory / f"{PARTITION}=*" / "*.parquet"
    return directory / "*.parquet"


def read_options(files: Path) -> str:
    """read_parquet's options for `files`: a partition's hour is in its directory's name,
    typed as on Spark."""
    if files.parent.name != f"{PARTITION}=*":
        return ""
    return f", hive_partitioning = true, hive_types = {{'{PARTITION}': 'timestamp'}}"


def spark_rows(files: Path, columns: list[str], key: tuple[str, ...]) -> list[tuple]:
    listed = ", ".join(f'"{c}"' for c in columns)
    order = ", ".join(key)
    with duckdb.connect() as con:
        return con.execute(
            f"select {listed} from read_parquet(?{read_options(files)}) order by {order}",
            [str(files)],
        ).fetchall()


def duckdb_rows(home: Home, table: str, columns: list[str], key: tuple[str, ...]) -> list[tuple]:
    listed = ", ".join(f'"{c}"' for c in columns)
    return query(home, f"select {listed} from {table} order by {', '.join(key)}")


def same(a: object, b: object) -> bool:
    # Types too: a float equals a Decimal of the same value, so a column Spark types as
    # decimal (DuckDB as double) would pass on whole numbers.
    if None not in (a, b) and type(a) is not type(b):
        return False
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0) or (math.isnan(a) and math.isnan(b))
    return a == b


def compared_columns(home: Home, table: str) -> list[str]:
    columns = [
        name
        for (name,) in query(
            home,
            "select column_name from information_schema.columns where table_name = ?"
            " order by ordinal_position",
            [table],
        )
        if name not in PER_BUILD
    ]
    assert columns, f"{table} is not in the DuckDB snapshot"
    return columns


def differences(home: Home, table: str, files: Path) -> list[tuple]:
    """(key, column, DuckDB's value, Spark's value) of every value that differs between
    DuckDB's `table` and Spark's rows in `files`, row by row in key order."""
    key = TABLES[table]
    columns = compared_columns(home, table)
    on_duckdb = duckdb_rows(home, table, columns, key)
    on_spark = spark_rows(files, columns, key)
    assert len(on_duckdb) >= MIN_ROWS.get(table, 50)
    assert len(on_spark) == len(on_duckdb), f"{table}: {len(on_spark)} rows on Spark"
    at = [columns.index(name) for name in key]
    return [
        (tuple(left[i] for i in at), name, a, b)
        for left, right in zip(on_duckdb, on_spark, strict=True)
        for name, a, b in zip(columns, left, right, strict=True)
        if not same(a, b)
    ]


@pytest.mark.parametrize("table", sorted(TABLES))
def test_table_is_the_same_on_both_engines(built_on_both: Home, table: str) -> None:
    differing = differences(built_on_both, table, spark_files(built_on_both, table))
    assert not differing, f"{table}: {differing[:5]}"


def test_the_comparison_sees_one_perturbed_value(built_on_both: Home, tmp_path: Path) -> None:
    # Spark's windows with one percentile moved by a millionth (far above the tolerance):
    # the row-by-row comparison reports exactly that value.
    perturbed = tmp_path / "fct_windows_60m.parquet"
    with duckdb.connect() as con:
        con.execute(
            "create table w as select * from read_parquet(?)",
            [str(spark_files(built_on_both, "fct_windows_60m"))],
        )
        target = con.execute(
            "select window_end_at, dimension, agent_name, dimension_value from w"
            " where cost_usd_p95 > 0 order by all limit 1"
        ).fetchone()
        con.execute(
            "update w set cost_usd_p95 = cost_usd_p95 * (1 + 1e-6) where window_end_at = ?"
            " and dimension = ? and agent_name is not distinct from ? and dimension_value = ?",
            list(target),
        )
        con.execute(f"copy w to '{perturbed}' (format parquet)")
    differing = differences(built_on_both, "fct_windows_60m", perturbed)
    assert [(row[0], row[1]) for row in differing] == [(target, "cost_usd_p95")]


def test_a_spark_build_publishes_the_tables_it_built(built_on_both: Home) -> None:
    # What `fleetsignals sql` read right after `build --engine spark`: Spark's rows (its
    # build_id included), the DuckDB build's tables absent, not mixed in.
    snapshot = spark_snapshot(built_on_both)
    manifest = json.loads(snapshot.with_name("manifest.json").read_text(encoding="utf-8"))
    assert manifest["engine"] == "spark"
    duckdb_build = query(built_on_both, "select distinct build_id from fct_windows_60m")
    with duckdb.connect(str(snapshot), read_only=True) as con:
        published = {
            name
            for (name,) in con.execute(
                "select view_name from duckdb_views() where not internal"
            ).fetchall()
        }
        assert set(TABLES) <= published
        # What readers need beyond Spark's tables (spans, dim_*, the as-of SQL, the
        # fingerprint marts) is built into it by DuckDB; Spark's per-build working tables are not.
        tables = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables"
            ).fetchall()
        }
        assert {
            "spans",
            "dim_data_clock",
            "dim_model_prices",
            "dim_unpriced_models",
            "int_as_of_views_rendered",
            "fct_fingerprint_windows",
        } <= tables
        assert "int_spans_touched" not in tables
        for table, key in TABLES.items():
            order = ", ".join(key)
            rows = con.execute(f"select * from {table} order by {order}").fetchall()
            columns = [column[0] for column in con.description]
            assert rows == spark_rows(spark_files(built_on_both, table), columns, key), table
        spark_build = con.execute("select distinct build_id from fct_windows_60m").fetchall()
        assert spark_build == [(manifest["build_id"],)] != duckdb_build
        runs = con.execute("select count(*) from fct_runs").fetchone()[0]
    assert runs == query(built_on_both, "select count(*) from fct_runs")[0][0] > 300


def test_a_spark_build_marks_its_watermark_row_complete(built_on_both: Home) -> None:
    # Parquet takes no update: on Spark the build's watermark row is a partition of its
    # own, overwritten with the row marked complete (an incremental build starts from the
    # last complete one). Publishing types the partition's value as Spark does.
    snapshot = spark_snapshot(built_on_both)
    manifest = json.loads(snapshot.with_name("manifest.json").read_text(encoding="utf-8"))
    files = spark_table_files(built_on_both, "int_build_watermarks_recorded")
    assert {path.parent.name for path in files} == {f"build_id={manifest['build_id']}"}
    with duckdb.connect(str(snapshot), read_only=True) as con:
        rows = con.execute(
            "select build_id, typeof(build_id), is_complete from int_build_watermarks_recorded"
        ).fetchall()
    assert rows == [(manifest["build_id"], "VARCHAR", True)]


def test_the_fleet_has_what_parity_must_cover(built_on_both: Home) -> None:
    # Priced and unpriced calls, failed tool calls and failed runs all occur, so the
    # comparison above covers the price match, null costs and error flags.
    priced, unpriced = query(
        built_on_both,
        "select count(*) filter (where is_priced), count(*) filter (where not is_priced)"
        " from fct_llm_calls",
    )[0]
    assert priced > 0 and unpriced > 0
    assert query(built_on_both, "select count(*) from fct_tool_calls where is_error")[0][0] > 0
    failed_runs = "select count(*) from int_runs_assembled where root_status_code = 'error'"
    assert query(built_on_both, failed_runs)[0][0] > 0
    # Labels from evaluation events, a linked evaluation span and files (the hand-made
    # ones and the generated fleet's judge and human labels); bad, superseded, and one
    # for a run that never landed; runs in every status.
    origins = query(
        built_on_both,
        "select origin, count(*), count(*) filter (where is_bad),"
        " count(*) filter (where is_superseded), count(*) filter (where not has_run)"
        " from fct_labels group by origin order by origin",
    )
    (files, *from_files), evaluations = origins
    assert files == "label_file" and from_files[0] > from_files[1] > 100
    assert from_files[2:] == [1, 1]
    assert evaluations == ("otel_evaluation", 3, 2, 0, 0)
    statuses = {s for (s,) in query(built_on_both, "select distinct status from fct_runs")}
    assert {"ok", "error"} <= statuses
    # Windows of every kind of group (fleet, pooled and per-agent dimensions, models, tools)
    # with several runs each (percentiles interpolate), and windows with unpriced runs.
    groups = query(
        built_on_both,
        "select dimension, count(*) filter (where agent_name is null),"
        " count(*) filter (where agent_name is not null), max(run_count),"
        " count(*) filter (where unpriced_run_count > 0)"
        " from fct_windows_60m group by dimension order by dimension",
    )
    by_dimension = {row[0]: row[1:] for row in groups}
    assert {"fleet", "agent_name", "prompt_variant", "model", "tool_name"} <= set(by_dimension)
    assert by_dimension["prompt_variant"][1] > 0 and by_dimension["model"][0] > 0
    assert min(row[2] for row in by_dimension.values()) > 2
    assert by_dimension["fleet"][3] > 0
    # Quality windows with labels (scored, bad and not bad) and with a label coverage
    # strictly between none and all of the ended runs.
    covered = query(
        built_on_both,
        "select count(*) filter (where mean_score is not null),"
        " count(*) filter (where bad_label_count > 0),"
        " count(*) filter (where label_count > bad_label_count),"
        " count(*) filter (where labelled_run_count > 0 and labelled_run_count < ended_run_count)"
        " from fct_quality_windows_60m",
    )[0]
    assert min(covered) > 0, covered
    # The run whose parent links loop: both LLM calls count (neither has another below it).
    cycle_calls = query(
        built_on_both,
        f"select span_id from fct_llm_calls where run_id = '{CYCLE_RUN:032x}' order by span_id",
    )
    assert cycle_calls == [(f"{2:016x}",), (f"{5:016x}",)]


def test_a_second_home_is_refused_in_the_same_process(built_on_both: Home, tmp_path: Path) -> None:
    # The in-process Spark keeps the warehouse directory it started with: building another
    # home with it would write into the first home's tables.
    other = Home(tmp_path / "other").ensure()
    write_synthetic_lake(other.lake, start=START, hours=1, runs_per_minute=1, seed=2)
    with pytest.raises(FleetsignalsError, match="new process"):
        build_on_spark(other, config_with(tmp_path))
