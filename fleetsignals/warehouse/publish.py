"""Publishing read-only snapshots of the warehouse after each build.

Readers never open ``warehouse.duckdb`` (DuckDB admits one writer process, and a
reader would block it). After each build the big tables are exported to
versioned Parquet files, one file per publishing partition (the hour a run
started, or a window ended), and only the partitions the build touched are
written again; a snapshot is a small DuckDB file
``snapshots/<version>/warehouse.duckdb`` holding

- a view per big table over an explicit list of those Parquet files,
- a copy of each small table (build log, price rows, unpriced models),
- the dbt views (``spans``, ``fct_runs``, staging) with their SQL unchanged,

so publishing costs in proportion to what the build touched, not to history.
``snapshots/CURRENT`` names the newest snapshot and is replaced atomically
(write, fsync, rename). Superseded snapshots and the Parquet files only they
use are removed after a grace period, so queries already running finish.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from fleetsignals.files import write_atomic
from fleetsignals.home import Home
from fleetsignals.sqltext import quote_identifier, quote_literal

# Big tables are exported per publishing partition, so a build rewrites only the
# partitions it touched: every table with an hour column `part_at` and the writing
# build's id `build_id` (any model can opt in by carrying both). Others are copied whole.
PART_COLUMN = "part_at"
# Tables replacing whole runs' rows (a run's rows can also move out of the table): their
# touched partitions are those of the touched runs.
TOUCH_SOURCE: dict[str, str] = {
    "fct_llm_calls": "int_runs_assembled",
    "fct_tool_calls": "int_runs_assembled",
    "fct_run_fingerprints": "int_runs_assembled",
}
# Per-build working tables (as large as the build's input) and the builds' record of the
# landings they read (only the next build reads it): never published.
UNPUBLISHED = {
    "int_build_landings_recorded",
    "int_spans_touched",
    "int_llm_calls_priced",
    "int_tool_calls_sequenced",
    "int_runs_indexed",
}

MANIFEST = "manifest.json"
# zstd at level 1, not DuckDB's default 3: compressing the touched partitions is most of
# publishing's CPU at fleet scale, and level 1 spends ~0.7x of it for ~3 % larger files
# that read no slower (README, "Ten thousand concurrent runs").
PARQUET_OPTIONS = "format parquet, compression zstd, compression_level 1"


def _published(table: str) -> bool:
    # dbt's staging tables (a build killed before it dropped them) are never published.
    return table not in UNPUBLISHED and "__dbt_tmp" not in table


def _version() -> str:
    # Sortable by time; the suffix keeps two builds in one second apart.
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:6]


def _read_manifest(home: Home) -> dict:
    pointer = home.snapshots / "CURRENT"
    try:
        current = pointer.read_text(encoding="utf-8").strip()
        return json.loads((home.snapshots / current).with_name(MANIFEST).read_text("utf-8"))
    except (FileNotFoundError, ValueError):
        return {}


def _touched_parts(con: duckdb.DuckDBPyConnection, table: str, since_seq: int) -> list[datetime]:
    """Partitions written by every build after the published one (a build whose
    publishing was interrupted is covered by the next)."""
    source = TOUCH_SOURCE.get(table, table)
    column = PART_COLUMN
    rows = con.execute(
        f"""
        select distinct {column} from src.main.{source}
        where {column} is not null and build_id in (
            select build_id from src.main.int_build_watermarks_recorded where build_seq > ?
        )
        """,
        [since_seq],
    ).fetchall()
    return [row[0] for row in rows]


def _export_parts(
    con: duckdb.DuckDBPyConnection,
    table: str,
    parts: list[datetime] | None,
    out: Path,
) -> dict[str, str]:
    """Write one Parquet file per partition of ``table`` (all partitions when parts is None)."""
    column = PART_COLUMN
    files: dict[str, str] = {}
    if parts is None:
        rows = con.execute(
            f"select distinct {column} from src.main.{table} where {column} is not null"
        ).fetchall()
        parts = [row[0] for row in rows]
    out.mkdir(parents=True, exist_ok=True)
    for part in sorted(parts):
        key = part.strftime("%Y%m%dT%H")
        path = out / f"{key}.parquet"
        con.execute(
            f"""
            copy (select * from src.main.{table} where {column} = ?)
            to {quote_literal(path)} ({PARQUET_OPTIONS})
            """,
            [part],
        )
        has_rows = con.execute(
            f"select count(*) > 0 from read_parquet({quote_literal(path)})"
        ).fetchone()[0]
        if has_rows:
            files[key] = str(path)
        else:  # the partition emptied (cannot happen in normal builds): drop it
            path.unlink()
            files[key] = ""
    return files


def publish_snapshot(home: Home, build_id: str, full_refresh: bool, grace_seconds: float) -> Path:
    """Publish the warehouse as a new snapshot and point CURRENT at it; returns its path."""
    version = _version()
    home.snapshots.mkdir(parents=True, exist_ok=True)
    data_root = home.snapshots / "data"
    staging = home.snapshots / f".{version}.tmp"
    staging.mkdir(parents=True)
    previous = {} if full_refresh else _read_manifest(home)
    db_path = staging / "warehouse.duckdb"
    with duckdb.connect(str(db_path)) as con:
        con.execute(f"attach {quote_literal(home.database)} as src (read_only)")
        # The build log restarts with each full refresh: its first build names the epoch.
        epoch, seq = con.execute(
            "select arg_min(build_id, build_seq), max(build_seq) from src.main.int_build_watermarks_recorded"
        ).fetchone()
        if previous.get("epoch") != epoch:
            previous = {}
        manifest: dict = {
            "version": version,
            "build_id": build_id,
            "epoch": epoch,
            "build_seq": seq,
            "tables": {},
        }
        tables = dict(
            con.execute(
                "select table_name, table_type from information_schema.tables "
                "where table_catalog = 'src' and table_schema = 'main'"
            ).fetchall()
        )
        partitioned = sorted(
            table
            for (table,) in con.execute(
                "select table_name from information_schema.columns "
                "where table_catalog = 'src' and table_schema = 'main' "
                "and column_name in (?, 'build_id') "
                "group by table_name having count(*) = 2",
                [PART_COLUMN],
            ).fetchall()
            if tables.get(table) == "BASE TABLE" and _published(table)
        )
        for table in partitioned:
            known = previous.get("tables", {}).get(table)
            if known is None:
                written = _export_parts(con, table, None, data_root / table / version)
                files = {}
            else:
                parts = _touched_parts(con, table, previous["build_seq"])
                written = _export_parts(con, table, parts, data_root / table / version)
                files = dict(known)
            for key, path in written.items():
                if path:
                    files[key] = path
                else:
                    files.pop(key, None)
            if not files:  # an empty table still needs its columns
                empty = data_root / table / version / "empty.parquet"
                empty.parent.mkdir(parents=True, exist_ok=True)
                con.execute(
                    f"copy (select * from src.main.{table} limit 0) to {quote_literal(empty)} (format parquet)"
                )
                files = {"empty": str(empty)}
            manifest["tables"][table] = files
            listing = ", ".join(quote_literal(p) for p in sorted(files.values()))
            con.execute(
                f"create view main.{quote_identifier(table)} as select * from read_parquet([{listing}])"
            )
        for table, kind in tables.items():
            if kind != "BASE TABLE" or table in partitioned or not _published(table):
                continue
            con.execute(
                f"create table main.{quote_identifier(table)} as select * from src.main.{quote_identifier(table)}"
            )
        views = con.execute(
            "select view_name, sql from duckdb_views() "
            "where database_name = 'src' and schema_name = 'main' and not internal"
        ).fetchall()
        # Views may depend on each other: create until no progress (a tiny topological sort).
        pending = dict(views)
        while pending:
            progressed = False
            for name, sql in list(pending.items()):
                try:
                    con.execute(sql)
                except duckdb.CatalogException:
                    continue
                del pending[name]
                progressed = True
            if not progressed:
                missing = ", ".join(sorted(pending))
                raise RuntimeError(f"cannot publish views {missing}: a dependency is unpublished")
        con.execute("detach src")
    return _commit_snapshot(home, staging, manifest, grace_seconds)


def _commit_snapshot(home: Home, staging: Path, manifest: dict, grace_seconds: float) -> Path:
    """Write the manifest, move the staged snapshot in place, point CURRENT at it and
    collect what is past its grace period; returns the snapshot's database."""
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    final = home.snapshots / manifest["version"]
    os.replace(staging, final)
    write_atomic(home.snapshots / "CURRENT", f"{manifest['version']}/warehouse.duckdb\n")
    collect_garbage(home, grace_seconds)
    return final / "warehouse.duckdb"


def collect_garbage(home: Home, grace_seconds: float, now: float | None = None) -> int:
    """Remove snapshots superseded more than ``grace_seconds`` ago and files only they used.

    A snapshot is superseded when the next one is published (its directory's mtime).
    Returns the number of snapshot directories removed.
    """
    now = time.time() if now is None else now
    root = home.snapshots
    try:
        current = (root / "CURRENT").read_text(encoding="utf-8").strip().split("/")[0]
    except FileNotFoundError:
        return 0
    versions = sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and p.name not in ("data",) and not p.name.startswith(".")
    )
    removed = 0
    keep: list[Path] = []
    for index, path in enumerate(versions):
        successor = versions[index + 1] if index + 1 < len(versions) else None
        superseded_at = successor.stat().st_mtime if successor else None
        if path.name == current or superseded_at is None or now - superseded_at < grace_seconds:
            keep.append(path)
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    # Leftovers of a publisher killed mid-way.
    for path in root.iterdir():
        if (
            path.name.startswith(".")
            and path.name.endswith(".tmp")
            and now - path.stat().st_mtime > grace_seconds
        ):
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(
                missing_ok=True
            )
    used: set[str] = set()
    for path in keep:
        try:
            manifest = json.loads((path / MANIFEST).read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            continue
        for files in manifest.get("tables", {}).values():
            used.update(files.values())
    data = root / "data"
    if data.is_dir():
        for table_dir in data.iterdir():
            for version_dir in table_dir.iterdir():
                for file in version_dir.iterdir():
                    if str(file) not in used and now - file.stat().st_mtime > grace_seconds:
                        file.unlink(missing_ok=True)
                if not any(version_dir.iterdir()):
                    version_dir.rmdir()
    return removed


def _link_or_copy(source: Path, target: Path) -> None:
    # A hard link costs nothing and keeps the content when Spark replaces the table's
    # files on its next build; across file systems, a copy.
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _hive_options(columns: dict[str, str]) -> str:
    """read_parquet's options for files in `column=value/` directories: values typed as on
    Spark (DuckDB would guess them from the names); none for an unpartitioned table."""
    if not columns:
        return ", hive_partitioning = false"
    types = ", ".join(f"{quote_literal(name)}: {kind}" for name, kind in columns.items())
    return f", hive_partitioning = true, hive_types = {{{types}}}"


def publish_spark_snapshot(
    home: Home,
    build_id: str,
    tables: dict[str, list[Path]],
    grace_seconds: float,
    readers: Callable[[Path], None] | None = None,
    partitions: dict[str, dict[str, str]] | None = None,
) -> Path:
    """Publish the Parquet files a Spark build wrote as a new snapshot and point CURRENT
    at it; returns its path. ``tables``: each published table's Parquet files;
    ``partitions``: the columns a table is partitioned by on Spark (its files sit in
    `column=value/` directories, as many levels deep), with their DuckDB types.

    Each table's files are linked (or copied) into the snapshot's data directory, since
    Spark rewrites a table's directory on its next build while queries may still read
    this snapshot, and the snapshot holds a view over them. Every Spark build is full, so
    every table is published whole; the manifest's epoch is the Spark build, so the next
    DuckDB build publishes all of its tables again. The last DuckDB build's tables are
    never mixed in: ``readers``, given the snapshot's database once it holds the views over
    Spark's tables, adds what readers need beyond them (runner.build_on_spark builds the
    remaining models there).
    """
    version = _version()
    home.snapshots.mkdir(parents=True, exist_ok=True)
    data_root = home.snapshots / "data"
    staging = home.snapshots / f".{version}.tmp"
    staging.mkdir(parents=True)
    manifest: dict = {
        "version": version,
        "build_id": build_id,
        "engine": "spark",
        "epoch": build_id,
        "build_seq": None,
        "tables": {},
    }
    with duckdb.connect(str(staging / "warehouse.duckdb")) as con:
        for table, sources in sorted(tables.items()):
            if not _published(table) or not sources:
                continue
            columns = (partitions or {}).get(table, {})
            out = data_root / table / version
            files = {}
            for source in sorted(sources):
                # Spark names files alike in different partitions: their directories are kept.
                name = str(Path(*source.parts[-1 - len(columns) :]))
                (out / name).parent.mkdir(parents=True, exist_ok=True)
                _link_or_copy(source, out / name)
                files[name] = str(out / name)
            manifest["tables"][table] = files
            listing = ", ".join(quote_literal(p) for p in sorted(files.values()))
            con.execute(
                f"create view main.{quote_identifier(table)} as select * "
                f"from read_parquet([{listing}]{_hive_options(columns)})"
            )
    if readers is not None:
        readers(staging / "warehouse.duckdb")
    return _commit_snapshot(home, staging, manifest, grace_seconds)
