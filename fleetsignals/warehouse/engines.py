"""The engines `fleetsignals build` runs the dbt project on, and what each needs besides.

DuckDB is embedded and the default. Spark runs through dbt-spark (the profile's `spark`
target: an in-process local Spark by default, docs/scale-out.md for a cluster).
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

from fleetsignals.config import Config
from fleetsignals.errors import FleetsignalsError
from fleetsignals.home import Home

ENGINES = ("duckdb", "spark")
# The profiles.yml target of each engine.
TARGETS = {"duckdb": "home", "spark": "spark"}


def chosen_engine(config: Config, given: str | None = None) -> str:
    """``--engine`` if given, else ``warehouse.engine`` from the config; checked."""
    engine = given or config["warehouse"]["engine"]
    if engine not in ENGINES:
        raise FleetsignalsError(
            f"warehouse.engine must be one of {', '.join(ENGINES)} (got {engine!r})"
        )
    return engine


def source_globs(home: Home, variables: dict[str, Any]) -> list[str]:
    """The file globs the project's sources read besides the lake of spans, spelled as the
    macros spell them (macro files_exist): labels, archived facts, the user's prices."""
    root = str(home.root).rstrip("/")
    kinds = ("runs", "llm_calls", "tool_calls", "retention")
    return [
        f"{root}/lake/labels/*/*.parquet",
        *(f"{root}/facts/{kind}/*.parquet" for kind in kinds),
        variables.get("user_prices_glob") or f"{root}/prices/*.csv",
    ]


def spark_vars(home: Home, variables: dict[str, Any]) -> dict[str, Any]:
    """What Spark SQL cannot find out itself: which source globs match files now."""
    listed = source_globs(home, variables)
    present = [pattern for pattern in listed if glob.glob(pattern)]
    return {"listed_globs": listed, "present_files": present}


def spark_tables(home: Home) -> Path:
    """Where the local Spark of the `spark` target writes its tables (profiles.yml)."""
    return home.root / "spark" / "warehouse"


def spark_table_files(home: Home, table: str) -> list[Path]:
    """The Parquet files of a table the local Spark wrote (none if it has not), those in
    its partitions' directories (`column=value/`) included."""
    return sorted((spark_tables(home) / "fleetsignals.db" / table).rglob("*.parquet"))


# Spark's types of partition columns -> DuckDB's: a partition's value is in its directory's
# name, not in the files, so publishing types it by the table's schema on Spark.
PARTITION_TYPES = {
    "string": "varchar",
    "timestamp": "timestamp",
    "timestamp_ntz": "timestamp",
    "date": "date",
    "int": "integer",
    "bigint": "bigint",
}


def spark_view_exports(home: Home) -> Path:
    """Where a Spark build writes the rows of the views it publishes (one directory each)."""
    return home.root / "spark" / "views"
