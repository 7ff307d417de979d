"""The SQL sandbox: where analysts' SQL runs (signals, `fleetsignals sql`, the signal
evaluations the report and retention replay).

Analysts' SQL is untrusted (docs/security.md, "Who is trusted"). Three layers keep it
to reading the warehouse, in a bounded time:

- ``connect_sandbox``: a read-only connection to the current snapshot that may open only
  the snapshot and the files behind its views (``allowed_directories``), with external
  access, extension auto-install and auto-load off, a memory limit, and the configuration
  locked so a query cannot undo any of it.
- ``check_query``: exactly one statement, and a read; functions that list the host's
  settings, databases, secrets or environment are refused. DuckDB lets a read-only
  connection COPY or EXPORT into an allowed directory (the lake!), so this gate is needed
  even under the sandbox's file rules.
- ``QueryGuard``: a time limit from parse to the last row fetched (``con.interrupt()``),
  which Ctrl-C can also trigger. No read can block past it: files outside the allowed
  directories (a FIFO, ``/dev/stdin``) cannot be opened at all.

Operator code that must write (the facts archive) keeps ``snapshot.connect_snapshot``.

An evaluation connection (``connect_sandbox(..., as_of=True)``) also shows the warehouse
as of the evaluation time: ``set_eval_at`` sets it, and temporary views named like the
marts (``AS_OF_VIEWS``) shadow them, keeping only the rows known by then (ended and
landed by ``$eval_at``). A signal cannot read what landed later, whether it filters or not.
fct_runs' view (RENDERED_VIEWS) also shows each run in flight at ``$eval_at`` as known
then: its dimensions, model, status and totals re-derived by the build's own rules.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb

from fleetsignals.config import Config
from fleetsignals.errors import FleetsignalsError
from fleetsignals.home import Home
from fleetsignals.snapshot import current_snapshot
from fleetsignals.sqltext import quote_identifier, quote_literal

# Functions that would show the host's configuration (paths under HOME, the sandbox's own
# settings), its secrets or its environment. Most fail under the sandbox anyway; refusing
# them by name gives one clear message and does not depend on DuckDB's internals.
REFUSED_FUNCTIONS = frozenset(
    {
        "current_setting",
        "duckdb_settings",
        "duckdb_databases",
        "duckdb_secrets",
        "duckdb_secret_types",
        "which_secret",
        "duckdb_extensions",
        "duckdb_temporary_files",
        "duckdb_external_file_cache",
        "getenv",
    }
)
# The evaluation time of an as-of connection (set_eval_at); unset, the as-of views are empty.
EVAL_AT_VARIABLE = "fleetsignals_eval_at"
# The home's first landing (dim_data_clock.first_landed_at), set when the connection opens.
FIRST_LANDED_VARIABLE = "fleetsignals_first_landed_at"
_EVAL_AT = f"getvariable('{EVAL_AT_VARIABLE}')"
_KNOWN = f"<= {_EVAL_AT}"
# Landing counts from the home's first landing on: before it nothing had landed (a backtest
# of history ingested later), and what had ended by $eval_at is what there was to see.
_LANDED_BY = (
    f"<= case when {_EVAL_AT} < getvariable('{FIRST_LANDED_VARIABLE}')"
    f" then timestamp 'infinity' else {_EVAL_AT} end"
)
# Each mart as of $eval_at: its rows known by then. A span (a call is one span) is known
# once it has ended and landed; a row without landed_at (calls archived before it was kept)
# from its end. A label counts from landing, and one superseded after $eval_at was current.
# Windows are built from what had ended by their end (models/marts). Relation -> select
# over the snapshot's relation {source}.
_ENDED = "select * from {{source}} where {end} {known} and coalesce(landed_at, {end}) {landed}"
AS_OF_VIEWS = {
    "spans": _ENDED.format(end="end_at", known=_KNOWN, landed=_LANDED_BY),
    "stg_otel__spans": _ENDED.format(end="end_at", known=_KNOWN, landed=_LANDED_BY),
    # Each copy of a span known once it has ended and landed: a span's first copy is known
    # first, so deduplicating what is seen (by landed_at) gives what `spans` shows.
    "stg_otel__span_copies": _ENDED.format(end="end_at", known=_KNOWN, landed=_LANDED_BY),
    "fct_llm_calls": _ENDED.format(end="ended_at", known=_KNOWN, landed=_LANDED_BY),
    "fct_tool_calls": _ENDED.format(end="ended_at", known=_KNOWN, landed=_LANDED_BY),
    # Replaced by the build's rendered view (RENDERED_VIEWS); this filter only names it.
    "fct_runs": f"select * from {{source}} where started_at {_KNOWN}",
    "fct_labels": (
        f"select * replace (case when superseded_at {_LANDED_BY} then superseded_at end"
        f" as superseded_at) from {{source}} where landed_at {_LANDED_BY}"
    ),
    "fct_windows_60m": f"select * from {{source}} where window_end_at {_KNOWN}",
    "fct_quality_windows_60m": f"select * from {{source}} where window_end_at {_KNOWN}",
    "fct_fingerprint_windows": f"select * from {{source}} where window_end_at {_KNOWN}",
}
# Views whose SQL the build renders from the models' rules (int_as_of_views_rendered, see
# macros/runs_as_of_select.sql), so they re-derive a run as the models do. fct_runs: a run
# is open at $eval_at while a span of it had not ended and landed by then (last_known_at;
# before the first landing, from its last end). set_eval_at re-derives the open runs once
# per $eval_at into a temporary table (REASSEMBLED_TABLE), reading the lake's partitions
# from their earliest start on (OPEN_SINCE_VARIABLE); fct_runs' view merges it in.
RENDERED_VIEWS = "int_as_of_views_rendered"
OPEN_SINCE_VARIABLE = "fleetsignals_open_since"
REASSEMBLED_FOR_VARIABLE = "fleetsignals_reassembled_for"  # the $eval_at it was made for
OPEN_RUNS_TABLE = "fleetsignals_runs_open"
OPEN_RUNS_VIEW = "fleetsignals_runs_opening"
REASSEMBLING_VIEW = "fleetsignals_runs_reassembling"
REASSEMBLED_TABLE = "fleetsignals_runs_reassembled"
# A run whose spans retention pruned (is_archived) cannot be re-derived: it keeps its row.
# fct_runs is a view (judging statuses, joining retention and labels) over the published
# int_runs_assembled, whose columns these are (last_known_at = greatest(last_span_at,
# last_landed_at)): reading the table skips the view's work on every run of the history.
_RUN_OPEN = (
    f"select run_id, started_at from {{source}} where started_at {_KNOWN} and"
    f" (last_span_at > {_EVAL_AT} or (not coalesce({_EVAL_AT} <"
    f" getvariable('{FIRST_LANDED_VARIABLE}'), false) and last_landed_at > {_EVAL_AT}))"
    " and not coalesce(is_archived, false)"
)
# The same over fct_runs, for a snapshot without int_runs_assembled's columns.
_RUN_OPEN_FCT = (
    f"select run_id, started_at from {{source}} where started_at {_KNOWN} and case"
    f" when {_EVAL_AT} < getvariable('{FIRST_LANDED_VARIABLE}') then last_span_at"
    f" else last_known_at end > {_EVAL_AT} and not coalesce(is_archived, false)"
)
_ASSEMBLED = "int_runs_assembled"
_ASSEMBLED_COLUMNS = {"run_id", "started_at", "last_span_at", "last_landed_at", "is_archived"}
_SPAN_KNOWN = f"end_at {_KNOWN} and coalesce(landed_at, end_at) {_LANDED_BY}"
_EXPLAIN = re.compile(r"\s*explain\s+(?:analy[sz]e\s+)?(.*)", re.I | re.S)


def allowed_directories(home: Home, config: Config, snapshot: Path) -> list[str]:
    """Every directory the snapshot's views read (see warehouse/publish.py and models/staging):
    the snapshot's own directory, the published Parquet files, the span lake, the facts
    archive and the user price CSVs. Only fleetsignals writes there (the prices directory is
    the operator's)."""
    prices = config["warehouse"].get("prices")
    dirs = [
        snapshot.parent,
        home.snapshots / "data",
        home.lake,
        home.facts,
        Path(prices).resolve() if prices else home.root / "prices",
    ]
    # A trailing separator makes each a directory prefix, not a prefix of sibling names.
    return [str(d.resolve()).rstrip("/") + "/" for d in dirs]


def connect_sandbox(home: Home, config: Config, as_of: bool = False) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the newest snapshot for untrusted SQL (see the module doc);
    ``as_of``: the marts as of the time ``set_eval_at`` sets (for signal evaluation)."""
    snapshot = current_snapshot(home)
    con = duckdb.connect(str(snapshot), read_only=True)
    _lock_down(con, allowed_directories(home, config, snapshot), config)
    if as_of:
        try:
            _create_as_of_views(con)
        except BaseException:
            con.close()
            raise
    return con


def _create_as_of_views(con: duckdb.DuckDBPyConnection) -> None:
    """Shadow each mart of AS_OF_VIEWS with a temporary view of its rows known at $eval_at.
    Unqualified names (and ``main.``) resolve to the temporary view first. Reads the home's
    first landing from dim_data_clock (none: landing counts at every $eval_at)."""
    database = con.execute("select current_database()").fetchone()[0]
    columns: dict[str, set[str]] = {}
    for table, column in con.execute(
        "select table_name, column_name from information_schema.columns"
        " where table_catalog = ? and table_schema = 'main'",
        [database],
    ).fetchall():
        columns.setdefault(table, set()).add(column)
    first_landed = None
    if "first_landed_at" in columns.get("dim_data_clock", ()):
        row = con.execute(
            f"select first_landed_at from {quote_identifier(database)}.main.dim_data_clock"
        ).fetchone()
        first_landed = row[0] if row else None
    con.execute(f"set variable {FIRST_LANDED_VARIABLE} = cast(? as timestamp)", [first_landed])
    rendered = _rendered_views(con, database, columns)
    for name, select in AS_OF_VIEWS.items():
        if name in columns:
            if "landed_at" in select and "landed_at" not in columns[name]:
                raise FleetsignalsError(
                    f"the snapshot's {name} has no landed_at (built by an older release):"
                    " run `fleetsignals build` once"
                )
            source = f"{quote_identifier(database)}.main.{quote_identifier(name)}"
            if name == "fct_runs":
                select = _runs_as_of(con, rendered, source, _open_runs(database, columns))
            con.execute(
                f"create temporary view {quote_identifier(name)} as " + select.format(source=source)
            )


def _rendered_views(
    con: duckdb.DuckDBPyConnection, database: str, columns: dict[str, set[str]]
) -> dict[str, str]:
    """Relation -> select the build rendered (RENDERED_VIEWS); an error when the snapshot
    has fct_runs but not its rendered view (built by an older release)."""
    if RENDERED_VIEWS not in columns:
        if "fct_runs" in columns:
            raise FleetsignalsError(
                "the snapshot has no as-of view of fct_runs (built by an older release, or"
                " by Spark, which does not render it yet): run `fleetsignals build` once"
                " (on DuckDB)"
            )
        return {}
    table = f"{quote_identifier(database)}.main.{quote_identifier(RENDERED_VIEWS)}"
    return dict(con.execute(f"select relation_name, select_sql from {table}").fetchall())


def _open_runs(database: str, columns: dict[str, set[str]]) -> str:
    """The select of the runs open at $eval_at (run_id, started_at): over the published
    int_runs_assembled when the snapshot has it, else over fct_runs."""
    if columns.get(_ASSEMBLED, set()) >= _ASSEMBLED_COLUMNS:
        return _RUN_OPEN.format(source=f"{quote_identifier(database)}.main.{_ASSEMBLED}")
    return _RUN_OPEN_FCT.format(source=f"{quote_identifier(database)}.main.fct_runs")


def _runs_as_of(
    con: duckdb.DuckDBPyConnection, rendered: dict[str, str], source: str, open_runs: str
) -> str:
    """fct_runs as of $eval_at (macros/runs_as_of_select.sql), with its placeholders filled
    in; creates the relations it reads (the open runs, their re-derivation and its table,
    empty until set_eval_at). Braces doubled: the result is formatted like AS_OF_VIEWS."""
    fills = {
        "__SOURCE__": source,
        "__OPEN_RUNS__": OPEN_RUNS_TABLE,
        "__OPEN_SINCE__": f"cast(getvariable('{OPEN_SINCE_VARIABLE}') as timestamp)",
        "__SPAN_KNOWN__": f"({_SPAN_KNOWN})",
        "__REASSEMBLED__": REASSEMBLED_TABLE,
        "__EVAL_AT__": f"cast({_EVAL_AT} as timestamp)",
    }

    def filled(relation: str) -> str:
        select = rendered[relation]
        for placeholder, value in fills.items():
            select = select.replace(placeholder, value)
        return select

    con.execute(f"create temporary view {OPEN_RUNS_VIEW} as " + open_runs)
    con.execute(
        f"create temporary table {OPEN_RUNS_TABLE} as select * from {OPEN_RUNS_VIEW} limit 0"
    )
    con.execute(f"create temporary view {REASSEMBLING_VIEW} as " + filled("fct_runs_reassembled"))
    con.execute(
        f"create temporary table {REASSEMBLED_TABLE} as select * from {REASSEMBLING_VIEW} limit 0"
    )
    return filled("fct_runs").replace("{", "{{").replace("}", "}}")


def set_eval_at(con: duckdb.DuckDBPyConnection, eval_at: datetime) -> None:
    """The evaluation time the as-of views of ``con`` show the warehouse at."""
    con.execute(f"set variable {EVAL_AT_VARIABLE} = cast(? as timestamp)", [eval_at])
    # The runs in flight, re-derived once per evaluation time (every signal of a cycle
    # reads them). Their earliest start is a constant by the time the re-derivation is
    # planned, so DuckDB reads only the lake's partitions from then on.
    if con.execute(f"select getvariable('{REASSEMBLED_FOR_VARIABLE}')").fetchone()[0] == eval_at:
        return
    reassembling = con.execute(
        "select count(*) from duckdb_views() where temporary and view_name = ?",
        [REASSEMBLING_VIEW],
    ).fetchone()[0]
    if reassembling:
        # Found once: the scan of every run is the bulk of the cost as history grows.
        con.execute(
            f"create or replace temporary table {OPEN_RUNS_TABLE} as select * from {OPEN_RUNS_VIEW}"
        )
        con.execute(
            f"set variable {OPEN_SINCE_VARIABLE} = (select min(started_at) from {OPEN_RUNS_TABLE})"
        )
        # None open (live, nearly always: a run is open only while spans known later exist):
        # nothing to re-derive, and no lake or calls to read for it.
        none_open = con.execute(f"select getvariable('{OPEN_SINCE_VARIABLE}') is null").fetchone()
        con.execute(
            f"create or replace temporary table {REASSEMBLED_TABLE} as"
            f" select * from {REASSEMBLING_VIEW}" + (" limit 0" if none_open[0] else "")
        )
        con.execute(f"set variable {REASSEMBLED_FOR_VARIABLE} = cast(? as timestamp)", [eval_at])


def connect_lake_sandbox(home: Home, config: Config) -> duckdb.DuckDBPyConnection:
    """Before the first build: an in-memory connection whose one view, ``spans``, reads the
    lake's Parquet as landed (normalized fields and dimensions as ingest derived them), under
    the same rules as ``connect_sandbox``, with the lake as the only readable directory."""
    if not any(home.lake.glob("dt=*/hr=*/*.parquet")):
        raise FleetsignalsError(
            f"nothing landed under {home.root} yet: run `fleetsignals ingest PATH` (and"
            " `fleetsignals build` for the tables beyond spans)"
        )
    con = duckdb.connect()
    try:
        files = quote_literal(home.lake.resolve() / "dt=*" / "hr=*" / "*.parquet")
        # The built table's name for the cost reported on a span (models/staging/otel).
        con.execute(
            "create view spans as select * rename (cost_usd as reported_cost_usd)"
            f" from read_parquet({files}, hive_partitioning = false)"
        )
    except BaseException:
        con.close()
        raise
    _lock_down(con, [str(home.lake.resolve()).rstrip("/") + "/"], config)
    return con


def _lock_down(con: duckdb.DuckDBPyConnection, directories: list[str], config: Config) -> None:
    """Files only under ``directories``, no extensions, a memory limit, configuration locked."""
    memory = str(config["sandbox"]["memory_limit"])
    try:
        # The order matters: once external access is off, allowed_directories is fixed, and
        # once the configuration is locked nothing can be changed (also not by a query).
        con.execute("set allowed_directories = ?", [directories])
        con.execute("set enable_external_access = false")
        con.execute("set autoinstall_known_extensions = false")
        con.execute("set autoload_known_extensions = false")
        try:
            con.execute("set memory_limit = ?", [memory])
        except duckdb.Error as exc:
            raise FleetsignalsError(
                f"config sandbox.memory_limit {memory!r}: {_one_line(exc)} (use e.g. 2GB)"
            ) from None
        con.execute("set lock_configuration = true")
    except BaseException:
        con.close()
        raise


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _function_names(node: Any) -> set[str]:
    """Names of every function called anywhere in a serialized statement (its JSON tree)."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            name = item.get("function_name")
            if isinstance(name, str):
                found.add(name.lower())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def check_query(
    con: duckdb.DuckDBPyConnection, sql: str, allow_explain: bool = False
) -> duckdb.Statement:
    """The one read statement in ``sql``; raises ValueError (one line) for anything else.

    A read is a select (also ``with``, ``from``-first, ``values``, ``describe``, ``show``,
    ``summarize``, which DuckDB parses as selects). ``allow_explain`` also admits
    ``explain [analyze]`` of such a select. ``con`` is any connection, used to parse only.
    """
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise ValueError(f"SQL error: {_one_line(exc)}") from None
    if len(statements) != 1:
        raise ValueError(
            f"refused: exactly one statement is allowed, found {len(statements)} "
            "(remove the extra `;`-separated statements)"
        )
    statement = statements[0]
    query = statement.query
    if statement.type == duckdb.StatementType.EXPLAIN and allow_explain:
        explained = _EXPLAIN.fullmatch(query)
        inner = con.extract_statements(explained.group(1)) if explained else []
        if len(inner) != 1 or inner[0].type != duckdb.StatementType.SELECT:
            raise ValueError("refused: only a select query may be explained")
        query = inner[0].query
    elif statement.type != duckdb.StatementType.SELECT:
        raise ValueError(
            f"refused: analysts' SQL is read-only, only a select may run, this is "
            f"{statement.type.name} (no write, attach, copy, export, set, load or call)"
        )
    tree = json.loads(con.execute("select json_serialize_sql(?)", [query]).fetchone()[0])
    if tree.get("error"):
        raise ValueError(f"SQL error: {tree.get('error_message', 'cannot parse the query')}")
    refused = sorted(_function_names(tree) & REFUSED_FUNCTIONS)
    if refused:
        raise ValueError(
            f"refused: {', '.join(refused)} may not be called (it shows the host's "
            "settings, secrets or environment)"
        )
    return statement


class QueryGuard:
    """Interrupts ``con``'s running query after ``seconds`` (None: never), or on ``stop``.

    Use it around everything that touches the query, from binding to the last fetch::

        with QueryGuard(con, 120) as guard:
            rows = con.execute(sql).fetchall()
        # on duckdb.InterruptException, guard.reason says why
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, seconds: float | None) -> None:
        self.con = con
        self.seconds = seconds
        self.reason: str | None = None
        self._timer = threading.Timer(seconds, self.stop, ["timeout"]) if seconds else None

    def stop(self, reason: str) -> None:
        """Interrupt the running query now (from any thread; a signal handler too)."""
        if self.reason is None:
            self.reason = reason
        self.con.interrupt()

    def __enter__(self) -> QueryGuard:
        if self._timer:
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._timer:
            self._timer.cancel()
