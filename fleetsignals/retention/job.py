"""`retain`: decide which runs keep their spans, record it, then prune and compact the lake.

Order matters for safety: decisions (and the run facts they refer to) are written
before any span is removed, so a kill between the two leaves spans to prune, never
a pruned run without facts; the lake rewrite is journaled per partition
(``rewrite.py``). Everything is idempotent: a second run decides nothing new and
finds every closed partition clean (``lake/_retention/state.json`` remembers which
files were checked against which decision batch).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import click
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from fleetsignals.config import Config
from fleetsignals.errors import FleetsignalsError
from fleetsignals.files import locked, write_atomic
from fleetsignals.home import Home
from fleetsignals.ingest.batches import publishing, resolve_dead
from fleetsignals.ingest.manifest import ManifestIndex, manifest_index
from fleetsignals.retention import facts
from fleetsignals.retention.evidence import insert_evidence, parse_rules
from fleetsignals.retention.flags import collect_flags
from fleetsignals.retention.policies import Policies, decide_sql, parse_policies
from fleetsignals.retention.rewrite import (
    Workspace,
    crash_point,
    purge_trash,
    recover,
    rewrite_partition,
    span_files,
)
from fleetsignals.retention.summary import RetentionSummary
from fleetsignals.sqltext import quote_literal
from fleetsignals.timeutil import parse_duration
from fleetsignals.warehouse import archive_run_facts

_PARTITION = re.compile(r"dt=(\d{4}-\d{2}-\d{2})/hr=(\d{1,2})$")
# Spans of a run end after it starts and near its end; this much clock skew is tolerated
# when looking for a pruned run's spans (spans further out are left in the lake, never lost).
SKEW = timedelta(hours=1)


@contextmanager
def _lock(work: Workspace) -> Iterator[None]:
    work.root.mkdir(parents=True, exist_ok=True)
    busy = "another `fleetsignals retain` is running on this home: wait for it to finish"
    with locked(work.root / "lock", busy=busy):
        yield


def _partitions(lake: Path) -> list[tuple[Path, datetime]]:
    out = []
    for path in sorted(lake.glob("dt=*/hr=*")):
        match = _PARTITION.search(path.as_posix())
        if match and path.is_dir():
            hour = datetime.fromisoformat(match.group(1)) + timedelta(hours=int(match.group(2)))
            out.append((path, hour))
    return out


def _lake_bytes(lake: Path) -> int:
    return sum(p.stat().st_size for p in lake.glob("dt=*/hr=*/*.parquet") if p.is_file())


def _load_state(work: Workspace) -> dict:
    try:
        return json.loads((work.root / "state.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {"partitions": {}}


def _decide(
    con: duckdb.DuckDBPyConnection,
    home: Home,
    config: Config,
    policies: Policies,
    ready: datetime,
    say: Callable[[str], None],
    notes: list[str],
) -> pa.Table:
    """New decisions for runs whose whole decision window closed before ``ready``."""
    columns = facts.run_columns(con)
    missing = policies.columns_used - columns
    if missing:
        raise FleetsignalsError(
            f"retention.policies name {', '.join(sorted(missing))}, not a column of fct_runs "
            f"(columns: {', '.join(sorted(columns))})"
        )
    con.execute(
        "create or replace temp table runs as "
        "select *, coalesce(ended_at, last_span_at) as end_for_retention "
        "from wh_runs "
        "where status <> 'running' "
        "and coalesce(ended_at, last_span_at) is not null "
        "and time_bucket($window, coalesce(ended_at, last_span_at)) + $window <= $ready",
        {"window": policies.window, "ready": ready},
    )
    # Keep only windows with an undecided run, whole: a percentile ranks within its window,
    # so decided neighbours still count, and history decided long ago costs nothing.
    con.execute(
        "delete from runs where time_bucket($window, end_for_retention) not in ("
        "    select distinct time_bucket($window, end_for_retention) from runs"
        "    where not exists (select 1 from decided as d where d.run_id = runs.run_id)"
        ")",
        {"window": policies.window},
    )
    span = con.execute(
        "select min(started_at), max(end_for_retention) from runs "
        "where run_id not in (select run_id from decided)"
    ).fetchone()
    con.execute("create or replace temp table flags (run_id varchar, signal varchar)")
    con.execute(
        "create or replace temp table group_rates (run_id varchar, signal varchar, rate double)"
    )
    if span[0] is None:
        return _empty_decisions()
    retention = config["retention"]
    if any(p.type == "signal_flagged" or _has_flag(p) for p in policies.keep + policies.drop):
        rules = parse_rules(retention["evidence"])
        run_flags, alerts = collect_flags(
            home,
            config,
            span[0],
            span[1] + parse_duration(retention["grace"]),
            reevaluate=bool(retention["reevaluate_signals"]),
            progress=say,
            notes=notes,
            rules=rules,
        )
        con.register("run_flags_arrow", run_flags)
        con.execute("insert into flags select run_id, signal from run_flags_arrow")
        con.unregister("run_flags_arrow")
        if retention["flag_groups"]:
            say(f"finding the evidence of {len(alerts)} group alerts")
            insert_evidence(
                con, alerts, rules, columns, policies.group_rate, policies.group_min_runs
            )
    sql, params = decide_sql(policies)
    return con.sql(
        f"select d.run_id, d.retention_reason, d.sample_weight from ({sql}) as d "
        "where d.run_id not in (select run_id from decided) order by d.run_id",
        params=params,
    ).to_arrow_table()


def _has_flag(policy) -> bool:
    return any(s.type == "signal_flagged" or _has_flag(s) for s in policy.subs)


def _empty_decisions() -> pa.Table:
    return pa.table(
        {
            "run_id": pa.array([], pa.string()),
            "retention_reason": pa.array([], pa.string()),
            "sample_weight": pa.array([], pa.float64()),
        }
    )


def _span_counts(con: duckdb.DuckDBPyConnection, lake: Path, summary: RetentionSummary) -> None:
    for reason, runs in con.execute(
        "select retention_reason, count(*) from new_decisions group by all"
    ).fetchall():
        summary.decided[reason].runs = runs
    first = con.execute(
        "select min(r.started_at) from new_decisions as d "
        "inner join wh_runs as r on r.run_id = d.run_id"
    ).fetchone()[0]
    if first is None:
        return
    # Only partitions that can hold the newly decided runs' spans (see SKEW).
    files = [
        str(f)
        for part, hour in _partitions(lake)
        if hour + timedelta(hours=1) > first - SKEW
        for f in sorted(part.glob("*.parquet"))
    ]
    if not files:
        return
    # Bytes per reason: each file's bytes shared out in proportion to its spans (Parquet
    # cannot say which bytes belong to which run; spans of one run are alike in size).
    rows = con.execute(
        "select s.filename, d.retention_reason, count(*) "
        "from read_parquet($files, hive_partitioning = false, union_by_name = true, "
        "    filename = true) as s "
        "left join new_decisions as d on s.trace_id = d.run_id group by all",
        {"files": files},
    ).fetchall()
    per_file: dict[str, int] = {}
    for name, _reason, spans in rows:
        per_file[name] = per_file.get(name, 0) + spans
    for name, reason, spans in rows:
        if reason is None:
            continue
        summary.decided[reason].spans += spans
        summary.decided[reason].bytes += round(os.path.getsize(name) * spans / per_file[name])


def _flag_counts(con: duckdb.DuckDBPyConnection, summary: RetentionSummary) -> None:
    """Which signal (or anomaly table) the anomaly runs are evidence of; group samples."""
    summary.anomaly_by_signal = dict(
        con.execute(
            "select f.signal, count(distinct f.run_id) from flags as f "
            "inner join new_decisions as d on d.run_id = f.run_id "
            "where d.retention_reason = 'anomaly' group by f.signal order by f.signal"
        ).fetchall()
    )
    summary.group_sampled = con.execute(
        "select count(*) from new_decisions as d where d.retention_reason = 'sampled' "
        "and d.run_id in (select run_id from group_rates)"
    ).fetchall()[0][0]


def retain(
    home: Home,
    config: Config,
    at: datetime,
    dry_run: bool = False,
    progress: bool = False,
) -> RetentionSummary:
    """Decide runs that ended more than ``retention.grace`` (or ``retention.label_wait``, if
    longer: time for quality labels to arrive) before ``at``, prune and compact.

    The scheduler calls this hourly with its own time. ``dry_run`` changes nothing.
    """
    retention = config["retention"]
    policies = parse_policies(retention)
    grace = max(parse_duration(retention["grace"]), parse_duration(retention["label_wait"]))
    ready = at - grace
    summary = RetentionSummary(at=at, ready_before=ready, dry_run=dry_run)
    say = (lambda m: click.echo(m, err=True)) if progress else (lambda m: None)
    lake = home.lake
    work = Workspace(home.root / "lake" / "_retention")
    if dry_run:
        return _run(home, config, policies, ready, lake, work, summary, say, progress)
    with _lock(work):
        work.ensure()
        with _quiet(lake):  # a rollback moves landed files
            summary.recovered = recover(lake, work)
        purge_trash(work, parse_duration(retention["trash_for"]))
        return _run(home, config, policies, ready, lake, work, summary, say, progress)


def _run(
    home: Home,
    config: Config,
    policies: Policies,
    ready: datetime,
    lake: Path,
    work: Workspace,
    summary: RetentionSummary,
    say: Callable[[str], None],
    progress: bool,
) -> RetentionSummary:
    summary.lake_bytes_before = _lake_bytes(lake)
    with duckdb.connect(":memory:") as con:
        if work.tmp.is_dir():
            con.execute(f"set temp_directory = {quote_literal(work.tmp)}")
        facts.attach(con, home)
        batches = facts.load_decisions(con, home)
        say("deciding runs")
        new = _decide(con, home, config, policies, ready, say, summary.notes)
        con.register("new_arrow", new)
        con.execute("create temp table new_decisions as select * from new_arrow")
        con.unregister("new_arrow")
        _flag_counts(con, summary)
        latest = batches + (1 if new.num_rows else 0)
        if new.num_rows and not summary.dry_run:
            # Facts first: a pruned run must be rebuildable from the archive before its
            # decision exists (a kill in between just decides and archives it again).
            pruned_ids = [
                r[0]
                for r in con.execute(
                    "select run_id from new_decisions where retention_reason = 'pruned'"
                ).fetchall()
            ]
            say(f"archiving the facts of {len(pruned_ids)} runs to prune")
            archive_run_facts(home, pruned_ids)
            crash_point("archived")
            facts.write_decisions(con, home, latest, summary.at)
            crash_point("decided")
        _span_counts(con, lake, summary)
        con.execute(
            "create temp table prune_index as "
            "select p.run_id, p.batch, "
            "    r.started_at - $skew as low, "
            "    coalesce(r.ended_at, r.last_span_at) + $skew as high "
            "from ("
            "    select run_id, batch from decided where retention_reason = 'pruned' "
            "    union all "
            "    select run_id, $latest from new_decisions where retention_reason = 'pruned'"
            ") as p left join wh_runs as r on r.run_id = p.run_id",
            {"skew": SKEW, "latest": latest},
        )
        index = manifest_index(home.manifest)
        _apply(con, lake, index, work, ready, latest, summary, say, progress)
    summary.lake_bytes_after = (
        summary.lake_bytes_before - summary.bytes_saved if summary.dry_run else _lake_bytes(lake)
    )
    return summary


def _apply(
    con: duckdb.DuckDBPyConnection,
    lake: Path,
    index: ManifestIndex,
    work: Workspace,
    ready: datetime,
    latest: int,
    summary: RetentionSummary,
    say: Callable[[str], None],
    progress: bool,
) -> None:
    """Prune and compact every closed partition that is not clean already."""
    state = _load_state(work)
    closed = [(p, h) for p, h in _partitions(lake) if h + timedelta(hours=1) <= ready]
    bar = (
        click.progressbar(closed, label="partitions", file=sys.stderr, show_pos=True)
        if progress and closed
        else None
    )
    items = bar if bar is not None else closed
    if bar is not None:
        bar.__enter__()
    try:
        for partition, hour in items:
            _apply_partition(con, lake, index, work, partition, hour, latest, state, summary)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
        if not summary.dry_run:
            # The cache only saves work: losing it to a kill means re-checking, not harm.
            write_atomic(
                work.root / "state.json", json.dumps(state, indent=0, sort_keys=True), sync_dir=True
            )
    say(f"{summary.partitions_rewritten} partitions rewritten")


def _apply_partition(
    con: duckdb.DuckDBPyConnection,
    lake: Path,
    index: ManifestIndex,
    work: Workspace,
    partition: Path,
    hour: datetime,
    latest: int,
    state: dict,
    summary: RetentionSummary,
) -> None:
    relative = partition.relative_to(lake).as_posix()
    files = _inputs(lake, partition, index, summary.dry_run)
    if not files:
        return
    cached = state["partitions"].get(relative)
    since = cached["batch"] if cached and cached["files"] == files else 0
    compact = len(files) > 1
    if since >= latest and not compact:
        return
    con.execute(
        "create or replace temp table pruned as "
        "select distinct run_id from prune_index where batch > $since "
        "and (low is null or low < $end) and (high is null or high >= $start)",
        {"since": since, "start": hour, "end": hour + timedelta(hours=1)},
    )
    paths = [str(partition / n) for n in files]
    to_prune = 0
    if con.execute("select count(*) from pruned").fetchone()[0]:
        to_prune = con.execute(
            "select count(*) from read_parquet($files, hive_partitioning = false) as s "
            "where s.trace_id in (select run_id from pruned)",
            {"files": paths},
        ).fetchone()[0]
    if not to_prune and not compact:
        if not summary.dry_run:
            state["partitions"][relative] = {"files": files, "batch": latest}
        return
    summary.partitions_rewritten += 1
    summary.files_before += len(files)
    summary.spans_pruned += to_prune
    if summary.dry_run:
        rows = sum(pq.read_metadata(p).num_rows for p in paths)
        size = sum(os.path.getsize(p) for p in paths)
        summary.bytes_before += size
        summary.bytes_after += int(size * (rows - to_prune) / rows) if rows else 0
        summary.files_after += 1 if rows > to_prune else 0
        return
    digest = _digest(con)
    done = rewrite_partition(
        con, lake, partition, files, digest, work, swap_lock=partial(_quiet, lake)
    )
    if done.rows_out != done.rows_in - to_prune:
        raise FleetsignalsError(  # cannot happen unless a file changed under us: stop loudly
            f"{relative}: wrote {done.rows_out} spans, expected {done.rows_in - to_prune}"
        )
    summary.bytes_before += done.bytes_in
    summary.bytes_after += done.bytes_out
    summary.files_after += 1 if done.output else 0
    after = span_files(partition)
    state["partitions"][relative] = {"files": after, "batch": latest}
    write_atomic(
        work.root / "state.json", json.dumps(state, indent=0, sort_keys=True), sync_dir=True
    )


def _quiet(lake: Path) -> AbstractContextManager[None]:
    """The lake's publish lock, exclusive: no ingest publishes, records or resolves meanwhile."""
    return publishing(lake.parent, exclusive=True)


def _inputs(lake: Path, partition: Path, index: ManifestIndex, dry_run: bool) -> list[str]:
    """The partition's files to rewrite, chosen while no ingest publishes (ingest/batches.py).

    Every batch intent present then is a dead run's: resolved first, its unrecorded rows
    are not among our inputs. What ingest publishes once we let go is not an input either:
    the swap puts it back (rewrite.py), so ingest waits only for the choice and the swap.
    """
    relative = partition.relative_to(lake).as_posix()
    if dry_run:
        return _recorded(relative, span_files(partition), index.refresh())
    with _quiet(lake):
        resolve_dead(lake.parent, lake, index)
        return _recorded(relative, span_files(partition), index.refresh())


# What ingest names its files: a source's content hash, or a batch id (32 hex digits).
_INGEST_NAME = re.compile(r"([0-9a-f]{32})\.parquet")


def _recorded(relative: str, files: list[str], index: ManifestIndex) -> list[str]:
    """The files to rewrite: all but those ingest named and no manifest line names.

    Such a file is a killed run's (its source lands again, overwriting it): compacted, its
    rows would sit beside the rerun's. Files not named by ingest (our outputs, files put
    in the lake by other means) are kept in; so is a landed source's file from a manifest
    line older than its ``files`` field.
    """
    kept = []
    for name in files:
        match = _INGEST_NAME.fullmatch(name)
        if (
            match is None
            or f"{relative}/{name}" in index.files
            or match.group(1) in index.unnamed_stems
        ):
            kept.append(name)
    return kept


def _digest(con: duckdb.DuckDBPyConnection) -> str:
    ids = [r[0] for r in con.execute("select run_id from pruned order by run_id").fetchall()]
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


__all__ = ["RetentionSummary", "retain"]
