"""The same lake built on DuckDB and on Spark gives the same tables: counts exact, floats
within 1e-9 relative. The Spark side is read from the Parquet files Spark wrote."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pytest

from fleetsignals.errors import FleetsignalsError
from fleetsignals.home import Home
from fleetsignals.warehouse.engines import spark_tables
from fleetsignals.warehouse.runner import build_on_spark
from tests.fixtures.lakefiles import config_with
from tests.fixtures.synthetic import write_synthetic_lake
from tests.fixtures.warehouses import START, query

pytestmark = [pytest.mark.slow, pytest.mark.spark]

# Table -> its key. build_id is the dbt invocation's id, different in every build.
TABLES = {
    "fct_llm_calls": ("run_id", "span_id"),
    "fct_tool_calls": ("run_id", "span_id"),
    "int_runs_assembled": ("run_id",),
}
PER_BUILD = {"build_id"}


def spark_rows(home: Home, table: str, columns: list[str], key: tuple[str, ...]) -> list[tuple]:
    files = spark_tables(home) / "fleetsignals.db" / table / "*.parquet"
    listed = ", ".join(f'"{c}"' for c in columns)
    order = ", ".join(key)
    with duckdb.connect() as con:
        return con.execute(
            f"select {listed} from read_parquet(?) order by {order}", [str(files)]
        ).fetchall()


def duckdb_rows(home: Home, table: str, columns: list[str], key: tuple[str, ...]) -> list[tuple]:
    listed = ", ".join(f'"{c}"' for c in columns)
    return query(home, f"select {listed} from {table} order by {', '.join(key)}")


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0) or (math.isnan(a) and math.isnan(b))
    return a == b


@pytest.mark.parametrize("table", sorted(TABLES))
def test_table_is_the_same_on_both_engines(built_on_both: Home, table: str) -> None:
    key = TABLES[table]
    columns = [
        name
        for (name,) in query(
            built_on_both,
            "select column_name from information_schema.columns where table_name = ?"
            " order by ordinal_position",
            [table],
        )
        if name not in PER_BUILD
    ]
    assert columns, f"{table} is not in the DuckDB snapshot"
    on_duckdb = duckdb_rows(built_on_both, table, columns, key)
    on_spark = spark_rows(built_on_both, table, columns, key)
    assert len(on_duckdb) > 50
    assert len(on_spark) == len(on_duckdb)
    for left, right in zip(on_duckdb, on_spark, strict=True):
        differing = [
            (name, a, b) for name, a, b in zip(columns, left, right, strict=True) if not same(a, b)
        ]
        assert not differing, f"{table} row {left[: len(key)]}: {differing}"


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


def test_a_second_home_is_refused_in_the_same_process(built_on_both: Home, tmp_path: Path) -> None:
    # The in-process Spark keeps the warehouse directory it started with: building another
    # home with it would write into the first home's tables.
    other = Home(tmp_path / "other").ensure()
    write_synthetic_lake(other.lake, start=START, hours=1, runs_per_minute=1, seed=2)
    with pytest.raises(FleetsignalsError, match="new process"):
        build_on_spark(other, config_with(tmp_path))
