"""Run facts that outlive their spans: the archive under ``HOME/facts``.

Retention prunes the spans of most healthy runs. Before it deletes any span of a
run, it calls ``archive_run_facts`` for that run: the run's row of
``int_runs_assembled`` and its rows of ``fct_llm_calls`` and ``fct_tool_calls``
are copied from the current snapshot to ``HOME/facts/{runs,llm_calls,tool_calls}/``.
Every later build, full refresh included, takes an archived run from the archive
and never from whatever spans of it remain, so aggregates over ``fct_runs`` do
not change when spans are pruned. Calls keep their tokens, so a full build
re-prices archived runs with the current price table like any other.

Retention's verdicts go to ``HOME/facts/retention/`` (``write_retention_decisions``)
and are joined into ``fct_runs`` (``retention_reason``, ``sample_weight``).

Files are written to a temporary name and renamed, so a killed process leaves
either no file or a whole one; archiving a run twice is harmless (the build keeps
one copy per run).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from fleetsignals.errors import FleetsignalsError
from fleetsignals.files import commit_file
from fleetsignals.home import Home
from fleetsignals.snapshot import connect_snapshot
from fleetsignals.sqltext import quote_literal

# Archive kind -> the snapshot relation its rows are copied from.
ARCHIVED = {
    "runs": "int_runs_assembled",
    "llm_calls": "fct_llm_calls",
    "tool_calls": "fct_tool_calls",
}
REASONS = ("error", "bad_label", "cost_tail", "anomaly", "sampled", "pruned")


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:8]


def _copy_atomic(con: duckdb.DuckDBPyConnection, query: str, params: list, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    con.execute(f"copy ({query}) to {quote_literal(tmp)} (format parquet, compression zstd)", params)
    commit_file(tmp, path)


def archive_run_facts(home: Home, run_ids: Iterable[str]) -> dict[str, int]:
    """Copy the facts of ``run_ids`` from the current snapshot into ``HOME/facts``.

    Call it before pruning those runs' spans. Returns rows written per kind
    (runs, llm_calls, tool_calls). Runs not in the warehouse are skipped: a run
    must have been built before its spans are pruned.
    """
    ids = sorted(set(run_ids))
    if not ids:
        return dict.fromkeys(ARCHIVED, 0)
    stamp = _stamp()
    written: dict[str, int] = {}
    # Operator code, not analysts' SQL: it needs a temp table and COPY into HOME/facts, which
    # the sandbox (fleetsignals.sandbox) refuses; its queries are fixed here.
    with connect_snapshot(home) as con:
        con.execute("create temp table archive_ids (run_id varchar)")
        con.executemany("insert into archive_ids values (?)", [(i,) for i in ids])
        # Runs first: a kill between files leaves calls without a run, which the build
        # ignores, rather than a run whose calls are lost.
        for kind, relation in ARCHIVED.items():
            query = f"select * from {relation} where run_id in (select run_id from archive_ids)"
            count = con.execute(f"select count(*) from ({query})").fetchone()[0]
            written[kind] = count
            if count:
                _copy_atomic(con, query, [], home.facts / kind / f"{stamp}.parquet")
    return written


def write_retention_decisions(
    home: Home, decisions: Sequence[tuple[str, str, float]], decided_at: datetime
) -> Path | None:
    """Record retention decisions ``(run_id, retention_reason, sample_weight)``.

    The latest decision per run wins; ``fct_runs`` shows it after the next build.
    """
    if not decisions:
        return None
    bad = sorted({reason for _, reason, _ in decisions if reason not in REASONS})
    if bad:
        raise FleetsignalsError(f"unknown retention reason(s) {bad}: use one of {REASONS}")
    path = home.facts / "retention" / f"{_stamp()}.parquet"
    with duckdb.connect() as con:
        con.execute(
            "create temp table decisions (run_id varchar, retention_reason varchar, "
            "sample_weight double, decided_at timestamp)"
        )
        con.executemany(
            "insert into decisions values (?, ?, ?, ?)",
            [(run_id, reason, float(weight), decided_at) for run_id, reason, weight in decisions],
        )
        _copy_atomic(con, "select * from decisions", [], path)
    return path
