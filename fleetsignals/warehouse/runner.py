"""Running the dbt project in-process and publishing the result.

dbt runs through its programmatic entry point (``dbtRunner``), so the scheduler,
which builds every five minutes in one long-lived process, pays dbt's import
and parse cost once: the parsed manifest is reused while the project files and
the variables stay the same.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from fleetsignals.config import Config
from fleetsignals.contract import PER_AGENT_DIMENSIONS, WINDOW_DIMENSIONS
from fleetsignals.errors import FleetsignalsError
from fleetsignals.files import locked
from fleetsignals.ingest.settings import config_vocabulary
from fleetsignals.ingest.vocabulary import dimension_var
from fleetsignals.home import Home
from fleetsignals.resources import project_dir
from fleetsignals.timeutil import parse_duration
from fleetsignals.warehouse.engines import (
    PARTITION_TYPES,
    TARGETS,
    chosen_engine,
    spark_table_files,
    spark_vars,
    spark_view_exports,
)
from fleetsignals.warehouse.publish import UNPUBLISHED, publish_snapshot, publish_spark_snapshot
from fleetsignals.sqltext import quote_identifier

PROJECT = project_dir()
_PROJECT_INPUTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds")
_manifest_cache: dict[str, Any] = {}


@dataclass
class BuildSummary:
    """What one build did; ``fleetsignals build`` prints it."""

    seconds: float
    models: int
    tests: int
    runs: int
    unpriced_models: int
    snapshot: Path
    full_refresh: bool
    dbt_seconds: float = 0.0
    publish_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    engine: str = "duckdb"


def dbt_vars(home: Home, config: Config) -> dict[str, Any]:
    """The dbt variables derived from the configuration (see dbt_project.yml ``vars``)."""
    warehouse = config["warehouse"]

    def minutes(key: str) -> float:
        return parse_duration(warehouse[key]).total_seconds() / 60

    prices = warehouse.get("prices")
    prices_glob = (
        str(Path(prices).resolve() / "*.csv") if prices else str(home.root / "prices" / "*.csv")
    )
    return {
        # The config's dimension keys merged with the attribute vocabularies', as ingest uses.
        "dimensions": dimension_var(config_vocabulary(config)),
        "window_dimensions": list(WINDOW_DIMENSIONS),
        "per_agent_dimensions": list(PER_AGENT_DIMENSIONS),
        "stale_after_minutes": minutes("stale_after"),
        "lookback_minutes": minutes("lookback"),
        "landed_overlap_minutes": minutes("landed_overlap"),
        "user_prices_glob": prices_glob,
        **label_vars(config),
    }


def label_vars(config: Config) -> dict[str, Any]:
    """``labels.bad_labels`` and ``labels.bad_score_below``, checked (dbt quotes them)."""
    labels = config["labels"]
    bad = labels["bad_labels"]
    if not isinstance(bad, list) or not all(isinstance(v, str) for v in bad):
        raise FleetsignalsError("labels.bad_labels must be a list of label values")
    below = labels["bad_score_below"]
    if not isinstance(below, dict) or not all(
        isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
        for k, v in below.items()
    ):
        raise FleetsignalsError(
            "labels.bad_score_below must map score names to numbers, e.g. {helpfulness: 0.5}"
        )
    return {
        "bad_labels": [v.strip().lower() for v in bad],
        "bad_score_below": {k: float(v) for k, v in below.items()},
    }


def _fingerprint() -> str:
    stamps = []
    for name in _PROJECT_INPUTS:
        path = PROJECT / name
        paths = [path] if path.is_file() else sorted(path.rglob("*"))
        stamps.extend(f"{p}:{p.stat().st_mtime_ns}" for p in paths if p.is_file())
    return str(hash(tuple(stamps)))


@contextmanager
def _build_lock(home: Home) -> Iterator[None]:
    busy = f"another build is running on {home.root}; wait for it to finish and retry"
    with locked(home.root / ".build.lock", busy=busy):
        yield


@contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _home_env(home: Home):
    # profiles.yml and the sources read the home from the environment.
    return _env("FLEETSIGNALS_HOME", str(home.root))


class _Progress:
    """Counts finished dbt nodes; draws ``done/total`` on stderr when it is a TTY."""

    def __init__(self, show: bool) -> None:
        self.show = show and sys.stderr.isatty()
        self.total = 0
        self.done = 0
        self.models = 0
        self.tests = 0
        self.failures: list[str] = []
        # (relation name, materialization) of each model and seed built.
        self.built: list[tuple[str, str]] = []

    def __call__(self, event: Any) -> None:
        name = event.info.name
        if name == "LogStartLine" and not self.total:
            self.total = getattr(event.data, "total", 0)
        elif name == "NodeFinished":
            self.done += 1
            node = event.data.node_info
            kind = node.resource_type
            status = str(node.node_status)
            if kind == "model" and status in ("success", "pass"):
                self.models += 1
            if kind in ("model", "seed") and status in ("success", "pass"):
                self.built.append((node.node_relation.alias, node.materialized))
            if kind in ("test", "unit_test"):
                self.tests += 1
            if self.show:
                line = f"\rbuild: {self.done}/{self.total or '?'} {node.node_name[:40]:<40}"
                sys.stderr.write(line)
                sys.stderr.flush()

    def close(self) -> None:
        if self.show and self.done:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()


def _failure_message(result: Any) -> str:
    if result.exception is not None:
        first = str(result.exception).strip().splitlines()
        return first[0] if first else type(result.exception).__name__
    problems = []
    for node_result in getattr(result.result, "results", None) or []:
        status = str(node_result.status)
        if status in ("error", "fail", "runtime error"):
            message = " ".join(str(node_result.message or status).split())
            problems.append(f"{node_result.node.resource_type} {node_result.node.name}: {message}")
    if not problems:
        return "dbt build failed"
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0][:400] + more


def _close_dbt_connections() -> None:
    # dbt-duckdb keeps a process-wide DuckDB instance; release it so the publisher can
    # open the file and the next build starts clean.
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
        DuckDBConnectionManager._ENV = None


def _run_dbt(
    home: Home,
    variables: dict[str, Any],
    full_refresh: bool,
    run_tests: bool,
    progress: _Progress,
    engine: str = "duckdb",
    select: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    profile_target: str | None = None,
) -> None:
    from dbt.cli.main import dbtRunner

    target = home.root / "target"
    profile_target = profile_target or TARGETS[engine]
    common = [
        "--project-dir", str(PROJECT),
        "--profiles-dir", str(PROJECT),
        "--target", profile_target,
        "--target-path", str(target),
        "--log-path", str(home.logs),
        # Not sort_keys: the macros iterate var `dimensions` in its (contract) order.
        "--vars", json.dumps(variables),
    ]  # fmt: skip
    key = json.dumps([str(home.root), profile_target, variables, _fingerprint()], sort_keys=True)
    manifest = _manifest_cache.get(key)
    if manifest is None:
        parsed = dbtRunner().invoke(["parse", *common, "--log-level", "none"])
        if not parsed.success:
            raise FleetsignalsError(f"dbt project does not parse: {_failure_message(parsed)}")
        manifest = parsed.result
        if len(_manifest_cache) >= 4:  # a few homes per process (tests, benchmarks) at most
            _manifest_cache.pop(next(iter(_manifest_cache)))
        _manifest_cache[key] = manifest
    args = ["build", *common, "--log-level", "none"]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", *select]
    if exclude:
        args += ["--exclude", *exclude]
    if not run_tests:
        args += ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
    try:
        result = dbtRunner(manifest=manifest, callbacks=[progress]).invoke(args)
    finally:
        _close_dbt_connections()
        progress.close()
    if not result.success:
        raise FleetsignalsError(
            f"build failed: {_failure_message(result)} (details: {home.logs / 'dbt.log'})"
        )


# dbt-duckdb's incremental Python models leave their staging table behind
# (`<model>__dbt_tmp<timestamp>`), one per model per build: dropped after each build, or
# a week of 5-minute builds would hold thousands of them, and publish would copy them all.
LEFTOVER = "%\\_\\_dbt\\_tmp%"


def _drop_leftovers(database: Path) -> None:
    with duckdb.connect(str(database)) as con:
        names = con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'main' and table_type = 'BASE TABLE' "
            "and table_name like ? escape '\\'",
            [LEFTOVER],
        ).fetchall()
        for (name,) in names:
            con.execute(f"drop table if exists main.{quote_identifier(name)}")


def lake_has_spans(home: Home) -> bool:
    """Whether anything has landed in the lake yet (a build needs at least one file)."""
    return any(home.lake.glob("*/*/*.parquet"))


def build(
    home: Home,
    config: Config,
    full_refresh: bool = False,
    progress: bool = False,
    run_tests: bool | None = None,
    engine: str | None = None,
) -> BuildSummary:
    """Build the warehouse from the lake and publish a read-only snapshot.

    ``engine``: duckdb or spark, else the config's ``warehouse.engine`` (see
    ``build_on_spark`` for what a Spark build does today).

    ``run_tests``: run dbt's data and unit tests too; by default only on a full
    refresh (uniqueness tests scan whole tables, which a five-minute incremental
    build must not pay for).

    Raises FleetsignalsError with a one-line reason when the lake is empty, another
    build holds the home, or dbt fails (its log is under HOME/logs).
    """
    started = time.monotonic()
    home.ensure()
    if not lake_has_spans(home):
        raise FleetsignalsError(
            f"the lake under {home.lake} has no spans yet: run `fleetsignals ingest PATH` first"
        )
    if chosen_engine(config, engine) == "spark":
        return build_on_spark(home, config, progress=progress, run_tests=bool(run_tests))
    variables = dbt_vars(home, config)
    grace = parse_duration(config["warehouse"]["snapshot_grace"]).total_seconds()
    meter = _Progress(progress)
    with _build_lock(home), _home_env(home):
        tests = full_refresh if run_tests is None else run_tests
        _run_dbt(home, variables, full_refresh, tests, meter)
        _drop_leftovers(home.database)
        dbt_done = time.monotonic()
        with duckdb.connect(str(home.database), read_only=True) as con:
            build_id = con.execute(
                "select build_id from int_build_watermarks_recorded order by build_seq desc limit 1"
            ).fetchone()[0]
            runs = con.execute("select count(*) from int_runs_assembled").fetchone()[0]
            unpriced = con.execute(
                "select model from dim_unpriced_models order by call_count desc"
            ).fetchall()
        snapshot = publish_snapshot(home, build_id, full_refresh, grace)
    finished = time.monotonic()
    warnings = []
    if unpriced:
        names = ", ".join(row[0] for row in unpriced[:5]) + (" ..." if len(unpriced) > 5 else "")
        warnings.append(
            f"{len(unpriced)} model(s) have no price, their cost is null: {names} "
            "(add rows to HOME/prices/*.csv, see docs/warehouse.md)"
        )
    return BuildSummary(
        seconds=finished - started,
        models=meter.models,
        tests=meter.tests,
        runs=runs,
        unpriced_models=len(unpriced),
        snapshot=snapshot,
        full_refresh=full_refresh,
        dbt_seconds=dbt_done - started,
        publish_seconds=finished - dbt_done,
        warnings=warnings,
    )


# The models that build on Spark so far, with everything upstream of them (dbt selectors);
# docs/scale-out.md lists what is still DuckDB only.
SPARK_SELECTION = (
    "+fct_llm_calls",
    "+fct_tool_calls",
    "+fct_runs",
    "+fct_windows_60m",
    "+fct_quality_windows_60m",
)
# Views of SPARK_SELECTION that readers query: a Spark view's SQL cannot go into a DuckDB
# snapshot, so its rows are written out after the build (fct_runs judges statuses at the
# last build's watermark, which stays fixed until the next build publishes again).
SPARK_PUBLISHED_VIEWS = ("fct_runs",)
_spark_home: list[Path] = []


def build_on_spark(
    home: Home, config: Config, progress: bool = False, run_tests: bool = False
) -> BuildSummary:
    """Build the models of SPARK_SELECTION on Spark (the profile's `spark` target) and
    publish them as a read-only snapshot.

    Always a full refresh: Parquet tables on Spark take no delete+insert, and the
    partition overwrite an incremental Spark build needs is not written yet. The tables
    are Parquet under HOME/spark/warehouse; the snapshot holds the tables built (and
    SPARK_PUBLISHED_VIEWS' rows) over those files, nothing from an earlier DuckDB build.
    The in-process Spark (dbt-spark's session method) lives as long as the process and
    keeps the home it started with: a second home in the same process is refused rather
    than written into the first one's tables.
    """
    started = time.monotonic()
    home.ensure()
    if not lake_has_spans(home):
        raise FleetsignalsError(
            f"the lake under {home.lake} has no spans yet: run `fleetsignals ingest PATH` first"
        )
    if _spark_home and _spark_home[0] != home.root:
        raise FleetsignalsError(
            f"this process already runs Spark for {_spark_home[0]}; build {home.root} "
            "on Spark from a new process"
        )
    variables = dbt_vars(home, config)
    variables.update(spark_vars(home, variables))
    grace = parse_duration(config["warehouse"]["snapshot_grace"]).total_seconds()
    meter = _Progress(progress)
    with _build_lock(home), _home_env(home):
        _spark_home[:] = [home.root]
        _run_dbt(home, variables, True, run_tests, meter, "spark", SPARK_SELECTION)
        dbt_done = time.monotonic()
        snapshot = _publish_spark(home, meter.built, grace, dbt_vars(home, config))
    with duckdb.connect(str(snapshot), read_only=True) as con:
        runs = con.execute("select count(*) from int_runs_assembled").fetchone()[0]
    finished = time.monotonic()
    return BuildSummary(
        seconds=finished - started,
        models=meter.models,
        tests=meter.tests,
        runs=runs,
        unpriced_models=0,
        snapshot=snapshot,
        full_refresh=True,
        dbt_seconds=dbt_done - started,
        publish_seconds=finished - dbt_done,
        engine="spark",
    )


def _publish_spark(
    home: Home, built: list[tuple[str, str]], grace_seconds: float, variables: dict[str, Any]
) -> Path:
    # The session dbt-spark's `session` method started in this process.
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()
    tables = {
        name: spark_table_files(home, name)
        for name, materialized in built
        if materialized in ("table", "incremental", "seed")
    }
    partitions = {name: _partition_columns(spark, name) for name in tables}
    for view in SPARK_PUBLISHED_VIEWS:
        out = spark_view_exports(home) / view
        spark.table(f"fleetsignals.{view}").write.mode("overwrite").parquet(str(out))
        tables[view] = sorted(out.glob("*.parquet"))
    build_id = spark.sql(
        "select build_id from fleetsignals.int_build_watermarks_recorded"
        " order by build_seq desc limit 1"
    ).first()[0]

    def readers(database: Path) -> None:
        _build_readers(home, {**variables, "build_id": build_id}, database, tuple(sorted(tables)))

    return publish_spark_snapshot(home, build_id, tables, grace_seconds, readers, partitions)


def _partition_columns(spark: Any, table: str) -> dict[str, str]:
    """The columns `table` is partitioned by on Spark, with their DuckDB types."""
    columns = spark.catalog.listColumns(f"fleetsignals.{table}")
    return {c.name: PARTITION_TYPES[c.dataType] for c in columns if c.isPartition}


def _build_readers(
    home: Home, variables: dict[str, Any], database: Path, spark_built: tuple[str, ...]
) -> None:
    """Build the models Spark did not into a Spark snapshot being published (``database``,
    which already has a view per table Spark built): dbt on the `spark_readers` target,
    DuckDB over Spark's Parquet. The same model files and macros as a DuckDB build, with
    DuckDB's dispatch: `spans` and the staging views over the lake, `dim_*`, the as-of
    SQL evaluation connections run (int_as_of_views_rendered, DuckDB SQL), and the
    fingerprint marts through their one Python implementation (fleetsignals.fingerprints).
    ``variables`` name the Spark build (var `build_id`): the models find the runs it
    touched by it, and their rows carry it.
    """
    skipped = (*spark_built, *UNPUBLISHED)
    meter = _Progress(False)
    with _env("FLEETSIGNALS_READERS_DB", str(database)):
        _run_dbt(
            home, variables, True, False, meter,
            select=("resource_type:model",), exclude=skipped, profile_target="spark_readers",
        )  # fmt: skip
    _drop_leftovers(database)
