"""`fleetsignals sql`."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import math
import sys
import uuid
from typing import Any

import click
import duckdb
import orjson

from fleetsignals.cli_env import Env, pass_env
from fleetsignals.errors import FleetsignalsError
from fleetsignals.snapshot import connect_snapshot
from fleetsignals.timeutil import format_time

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
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _print_table(columns: list[str], rows: list[tuple]) -> None:
    cells = [[_text(v).replace("\n", " ") for v in row] for row in rows]
    cells = [[c if len(c) <= MAX_CELL else c[: MAX_CELL - 1] + "…" for c in row] for row in cells]
    widths = [len(c) for c in columns]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    click.echo("  ".join("-" * w for w in widths))
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})", err=True)


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
    """Run ad-hoc SQL on a consistent read-only snapshot of the warehouse.

    Tables: spans, fct_runs, fct_llm_calls, fct_tool_calls, fct_windows_60m,
    dim_model_prices, dim_unpriced_models (see docs/warehouse.md). The snapshot is
    the one the last build published: a running build neither blocks nor is
    blocked by the query. Statements that write are refused.

    Example: fleetsignals sql "select agent_name, count(*) from fct_runs group by 1"
    """
    with connect_snapshot(env.home) as con:
        try:
            cursor = con.execute(query)
        except duckdb.Error as exc:
            message = " ".join(str(exc).split())
            raise FleetsignalsError(f"query failed: {message}") from None
        if cursor.description is None:
            return
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
