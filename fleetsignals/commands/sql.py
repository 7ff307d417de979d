"""`fleetsignals sql`."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import math
import signal
import sys
import threading
import uuid
from typing import Any

import click
import duckdb
import orjson

from fleetsignals.cells import cell_text, shorten
from fleetsignals.cli_env import Env, pass_env
from fleetsignals.errors import FleetsignalsError
from fleetsignals.sandbox import QueryGuard, check_query, connect_lake_sandbox, connect_sandbox
from fleetsignals.snapshot import has_snapshot
from fleetsignals.timeutil import format_time, parse_duration

MAX_CELL = 60


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, uuid.UUID | dt.timedelta):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


def _text(value: Any) -> str:
    """A CSV field: NULL is the empty field, as CSV readers expect."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _print_table(columns: list[str], rows: list[tuple]) -> None:
    # NULL shows as NULL, '' as '', a newline as \n: one row is always one line.
    cells = [[shorten(cell_text(v), MAX_CELL) for v in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    click.echo("  ".join("-" * w for w in widths))
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})", err=True)


def _write_rows(cursor: duckdb.DuckDBPyConnection, fmt: str) -> None:
    columns = [d[0] for d in cursor.description]
    if fmt == "json":
        while batch := cursor.fetchmany(10_000):
            for row in batch:
                record = {c: _json_value(v) for c, v in zip(columns, row, strict=True)}
                sys.stdout.buffer.write(orjson.dumps(record) + b"\n")
        sys.stdout.flush()
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        while batch := cursor.fetchmany(10_000):
            writer.writerows([[_text(v) for v in row] for row in batch])
    else:
        _print_table(columns, cursor.fetchall())


RUNNING_NOTE_AFTER = 3.0  # seconds: longer than most answers take


def _run(con: duckdb.DuckDBPyConnection, query: str, fmt: str, guard: QueryGuard) -> None:
    """Run the query and write its rows in a worker thread, so that the main thread stays free
    to take Ctrl-C: while DuckDB runs, Python delivers no signal to the thread that called it.
    A query still running after RUNNING_NOTE_AFTER seconds says so on stderr, once."""
    failure: list[BaseException] = []

    def work() -> None:
        try:
            cursor = con.execute(query)
            if cursor.description is not None:
                _write_rows(cursor, fmt)
        except BaseException as exc:  # re-raised in the main thread
            failure.append(exc)

    worker = threading.Thread(target=work, name="fleetsignals-sql", daemon=True)
    previous = signal.getsignal(signal.SIGINT)
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        signal.signal(signal.SIGINT, lambda *_: guard.stop("interrupted"))
    try:
        worker.start()
        worker.join(RUNNING_NOTE_AFTER)
        if worker.is_alive():
            click.echo("running... (Ctrl-C stops the query)", err=True)
        while worker.is_alive():
            worker.join(0.1)
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
    if failure:
        raise failure[0]


@click.command()
@click.argument("query")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table for people; json is JSON lines (one object per row); csv with a header.",
)
@pass_env
def command(env: Env, query: str, fmt: str) -> None:
    """Run one read-only query on a consistent snapshot of the warehouse.

    Tables: spans, fct_runs, fct_llm_calls, fct_tool_calls, fct_windows_60m,
    fct_run_fingerprints, fct_fingerprint_windows, fct_run_anomaly_scores,
    dim_model_prices, dim_unpriced_models (see docs/warehouse.md and
    docs/fingerprints.md). The table format shows NULL as NULL, the empty
    string as '' and control characters as escapes (\\n); csv and json
    keep values as they are. The snapshot is
    the one the last build published: a running build neither blocks nor is
    blocked by the query. Before the first build, only spans can be queried: the
    spans as landed, right after `fleetsignals ingest`.

    Allowed: one select (also with, from, values, describe, show, summarize) or
    explain of one. Refused: several statements, and any statement that writes,
    attaches, copies, exports, sets, loads, installs, calls or creates; reading
    files outside the warehouse; functions that show the host's settings or
    environment (getenv, current_setting, duckdb_settings...). The query stops after sandbox.sql_timeout
    (default 5m) or at Ctrl-C; one still running after 3s says so on stderr. See "SQL sandbox" in docs/signals.md.

    Example: fleetsignals sql "select agent_name, count(*) from fct_runs group by 1"
    """
    limit = parse_duration(env.config["sandbox"]["sql_timeout"]).total_seconds()
    if has_snapshot(env.home):
        con = connect_sandbox(env.home, env.config)
    else:
        con = connect_lake_sandbox(env.home, env.config)
        click.echo(
            "note: no build yet: only `spans` (the spans as landed) can be queried;"
            " `fleetsignals build` makes the other tables",
            err=True,
        )
    with con:
        try:
            check_query(con, query, allow_explain=True)
        except ValueError as exc:
            text = str(exc)
            raise FleetsignalsError(
                f"query {text}" if text.startswith("refused") else f"query failed: {text}"
            ) from None
        with QueryGuard(con, limit) as guard:
            try:
                _run(con, query, fmt, guard)
            except duckdb.InterruptException:
                if guard.reason == "timeout":
                    raise FleetsignalsError(
                        f"query stopped after {limit:g}s (sandbox.sql_timeout): narrow it, "
                        "or raise sandbox.sql_timeout in the config"
                    ) from None
                raise FleetsignalsError("query interrupted (Ctrl-C)") from None
            except duckdb.Error as exc:
                message = " ".join(str(exc).split())
                raise FleetsignalsError(f"query failed: {message}") from None
