"""Run facts and retention decisions: what retain reads from the warehouse and writes beside it.

Reads ``fct_runs`` from the newest published snapshot (never the writer's file).
Writes each batch of decisions to ``HOME/facts/retention/decisions-<seq>.parquet``
(``run_id``, ``retention_reason``, ``sample_weight``, ``decided_at``), atomically;
the warehouse joins them into ``fct_runs``. The batch number orders batches and
tells the lake rewrite which decisions a partition has already applied.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import duckdb

from fleetsignals.errors import FleetsignalsError
from fleetsignals.files import commit_file, temporary_beside
from fleetsignals.home import Home
from fleetsignals.snapshot import current_snapshot
from fleetsignals.sqltext import quote_identifier, quote_literal

DECISIONS = "decisions-{seq:06d}.parquet"
_BATCH = re.compile(r"decisions-(\d+)\.parquet$")


def decisions_dir(home: Home) -> Path:
    return home.facts / "retention"


def attach(con: duckdb.DuckDBPyConnection, home: Home) -> None:
    """Attach the current snapshot read-only and expose its ``fct_runs`` as ``wh_runs``."""
    path = current_snapshot(home)
    con.execute("attach $path as wh (read_only)", {"path": str(path)})
    found = con.execute(
        "select table_schema from information_schema.tables "
        "where table_catalog = 'wh' and table_name = 'fct_runs' order by table_schema = 'main' desc"
    ).fetchone()
    if found is None:
        raise FleetsignalsError(
            f"snapshot {path.name} has no fct_runs: run `fleetsignals build` first"
        )
    schema = quote_identifier(found[0])
    con.execute(f"create or replace temp view wh_runs as select * from wh.{schema}.fct_runs")


def run_columns(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("describe wh_runs").fetchall()}


def load_decisions(con: duckdb.DuckDBPyConnection, home: Home) -> int:
    """Create temp table ``decided`` (every past decision, with its batch); returns the last batch."""
    files = sorted(str(p) for p in decisions_dir(home).glob("decisions-*.parquet"))
    con.execute(
        "create or replace temp table decided ("
        "run_id varchar, retention_reason varchar, sample_weight double, "
        "decided_at timestamp, batch integer)"
    )
    if not files:
        return 0
    con.execute(
        "insert into decided "
        "select run_id, retention_reason, sample_weight, decided_at, "
        "    cast(regexp_extract(filename, 'decisions-([0-9]+)\\.parquet$', 1) as integer) "
        "from read_parquet($files, filename = true, union_by_name = true)",
        {"files": files},
    )
    return max(int(_BATCH.search(f).group(1)) for f in files)


def write_decisions(con: duckdb.DuckDBPyConnection, home: Home, seq: int, at: datetime) -> Path:
    """Write ``new_decisions`` as batch ``seq``: temp file, fsync, rename (all or nothing)."""
    target = decisions_dir(home) / DECISIONS.format(seq=seq)
    if target.exists():
        raise FleetsignalsError(f"{target} exists already: is another retain running?")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_beside(target)
    con.execute(
        f"copy (select run_id, retention_reason, sample_weight, "
        f"cast($at as timestamp) as decided_at from new_decisions order by run_id) "
        f"to {quote_literal(tmp)} (format parquet, compression zstd)",
        {"at": at},
    )
    commit_file(tmp, target, sync_dir=True)
    return target
