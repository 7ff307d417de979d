"""Percentiles have one definition on both engines (macro percentiles_cont): DuckDB's
quantile_cont and Spark's percentile agree on the same values, ties, nulls and tiny
groups included."""

from __future__ import annotations

import math
import random

import duckdb
import pytest

from fleetsignals.home import Home

pytestmark = [pytest.mark.slow, pytest.mark.spark]

FRACTIONS = (0.5, 0.95, 0.99)


def groups() -> dict[int, list[float | None]]:
    rng = random.Random(17)
    made: dict[int, list[float | None]] = {
        0: [1.0],
        1: [1.0, 2.0],
        2: [3.0, 3.0, 3.0, 10.0],
        3: [None, 5.0, None, 1.0],
        4: [rng.lognormvariate(0, 2) for _ in range(997)],
        5: [float(rng.randint(1, 12)) for _ in range(250)],
    }
    return made


def test_duckdb_and_spark_percentiles_agree(built_on_both: Home) -> None:
    from pyspark.sql import SparkSession

    rows = [(g, v) for g, values in groups().items() for v in values]
    listed = ", ".join(str(f) for f in FRACTIONS)
    with duckdb.connect() as con:
        con.execute("create table t (g integer, v double)")
        con.executemany("insert into t values (?, ?)", rows)
        on_duckdb = dict(
            con.execute(f"select g, quantile_cont(v, [{listed}]) from t group by g").fetchall()
        )
    # The session the Spark build started (one per process).
    spark = SparkSession.builder.getOrCreate()
    frame = spark.createDataFrame(rows, "g int, v double")
    frame.createOrReplaceTempView("percentile_values")
    on_spark = {
        row[0]: row[1]
        for row in spark.sql(
            f"select g, percentile(v, array({listed})) from percentile_values group by g"
        ).collect()
    }
    assert sorted(on_spark) == sorted(on_duckdb) == sorted(groups())
    for group, expected in on_duckdb.items():
        got = on_spark[group]
        assert all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(expected, got, strict=True)), (
            group,
            expected,
            got,
        )
