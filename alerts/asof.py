"""Binding the warehouse as it was known at an evaluation time, for one signal query.

A signal at ``$eval_at`` must see only what was known then: a run's dimensions, model
and status from the spans that had been received and had ended by then, the calls and
spans known by then (docs/architecture.md, "As of the evaluation time"). The warehouse
keeps that history (``fct_run_versions``, each span's ``known_at``), and the dbt views
``as_of__<table>`` select from it what was known at the DuckDB variable ``eval_at``.

``as_of(con, eval_at)`` sets that variable and shadows each ``<table>`` with a temporary
view of ``as_of__<table>``, so a signal's SQL reads ``fct_runs``, ``fct_llm_calls``,
``fct_tool_calls`` and ``spans`` (also as ``main.fct_runs``) as of ``eval_at`` without
naming anything new: shipped and analysts' signals alike, by construction. The
temporary views are dropped on exit, so the same connection reads the current tables
again (retention evaluates signals and then reads fct_runs as it is now).

A temporary view named ``spans`` would also capture the ``main.spans`` inside
``as_of__spans`` (DuckDB looks in the temporary catalog first), so each temporary view
holds the as-of view's query with every ``main.`` relation qualified by the snapshot's
database name, which the temporary catalog cannot shadow. A snapshot published before
the as-of views existed binds nothing: its signals read the current tables.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import duckdb

from fleetsignals.sqltext import quote_identifier

PREFIX = "as_of__"
VARIABLE = "eval_at"

# (database name, view SQL) -> the qualified query: each parsed once per process.
_QUERIES: dict[tuple[str, str], str] = {}


def _qualify(node: Any, database: str) -> None:
    """Put ``database`` in front of every relation of schema main in a serialized query."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") == "BASE_TABLE" and item.get("schema_name") == "main":
                item["catalog_name"] = database
                item["qualified_name"] = {"path": [database, "main", item["table_name"]]}
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _qualified_query(con: duckdb.DuckDBPyConnection, database: str, sql: str) -> str:
    query = sql.strip().rstrip(";").split(" AS ", 1)[1]  # CREATE VIEW name AS <query>
    tree = json.loads(con.execute("select json_serialize_sql(?)", [query]).fetchone()[0])
    if tree.get("error"):
        raise ValueError(f"cannot parse an as-of view: {tree.get('error_message')}")
    _qualify(tree, database)
    return con.execute("select json_deserialize_sql(?::json)", [json.dumps(tree)]).fetchone()[0]


def as_of_queries(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Table name -> the query of its as-of view, qualified (empty without as-of views)."""
    rows = con.execute(
        "select database_name, view_name, sql from duckdb_views() "
        "where database_name = current_database() and schema_name = 'main' "
        "and not temporary and starts_with(view_name, ?)",
        [PREFIX],
    ).fetchall()
    queries: dict[str, str] = {}
    for database, view, sql in rows:
        key = (database, sql)
        if key not in _QUERIES:
            _QUERIES[key] = _qualified_query(con, database, sql)
        queries[view.removeprefix(PREFIX)] = _QUERIES[key]
    return queries


@contextmanager
def as_of(con: duckdb.DuckDBPyConnection, eval_at: datetime) -> Iterator[None]:
    """Within the block, the warehouse's tables read as known at ``eval_at`` (module doc)."""
    queries = as_of_queries(con)
    con.execute(f"set variable {VARIABLE} = cast(? as timestamp)", [eval_at])
    bound: list[str] = []
    try:
        for table, query in queries.items():
            con.execute(f"create or replace temp view {quote_identifier(table)} as {query}")
            bound.append(table)
        yield
    finally:
        for table in bound:
            con.execute(f"drop view if exists temp.main.{quote_identifier(table)}")
        con.execute(f"reset variable {VARIABLE}")
