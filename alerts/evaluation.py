"""Run signal queries at an evaluation time and turn their rows into samples.

Row convention (Grafana's tabular one): the numeric column ``value`` is the
sample's value; every non-numeric column is a label (text as is; times as
ISO-8601 UTC with Z; booleans as true/false); other numeric columns are not
labels but can be used in templates. A NULL or empty label is dropped, as
Prometheus treats an empty label as an absent one. No rows means healthy.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb

from fleetsignals.alerts.definitions import Signal, is_numeric_type
from fleetsignals.alerts.identity import check_identities
from fleetsignals.sandbox import QueryGuard, set_eval_at
from fleetsignals.timeutil import format_time

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sample:
    """One result row: identity labels, the value, and every numeric column for templates."""

    labels: dict[str, str]
    value: float | None
    values: dict[str, float | None] = field(default_factory=dict)


@dataclass
class Evaluation:
    """The outcome of one signal at one time: samples, or an error that isolates it."""

    signal: Signal
    eval_at: datetime
    samples: list[Sample]
    error: str | None = None
    seconds: float = 0.0


def _label(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value) if isinstance(value, Decimal | int | float) else None
    if number is None or math.isnan(number) or math.isinf(number):
        return None
    return number


def samples_from(columns: list[str], types: list[str], rows: list[tuple]) -> list[Sample]:
    """Classify columns by type and build samples; raises ValueError on a bad shape."""
    if "value" not in columns:
        raise ValueError(f"no column named value (columns: {', '.join(columns)})")
    numeric = [is_numeric_type(t) for t in types]
    if not numeric[columns.index("value")]:
        raise ValueError(f"column value must be numeric, it is {types[columns.index('value')]}")
    samples: list[Sample] = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for row in rows:
        labels: dict[str, str] = {}
        values: dict[str, float | None] = {}
        for name, is_number, cell in zip(columns, numeric, row, strict=True):
            if is_number:
                values[name] = _number(cell)
            else:
                text = _label(cell)
                if text:
                    labels[name] = text
        key = tuple(sorted(labels.items()))
        if key in seen:
            # Prometheus refuses such a result too: two rows would be one alert instance.
            raise ValueError(
                f"two rows have the same labels {dict(key)}: make the text columns unique "
                "per row (group by them)"
            )
        seen.add(key)
        samples.append(Sample(labels=labels, value=values["value"], values=values))
    return samples


def evaluate_signal(
    con: duckdb.DuckDBPyConnection,
    signal: Signal,
    eval_at: datetime,
    timeout: float | None = None,
    limit: int | None = None,
) -> Evaluation:
    """Run one signal; any failure is captured in the result, never raised.

    ``limit`` (the operator's alerts.instance_limit) caps the instances; the signal's own
    ``limit`` may lower it. Over the cap the evaluation fails whole, as a Prometheus rule over
    its limit does, and at most cap + 1 rows are ever read.
    """
    started = time.perf_counter()
    cap = min(filter(None, (signal.limit, limit)), default=None)
    sql = signal.sql if cap is None else f"select * from (\n{signal.sql}\n) limit {cap + 1}"
    try:
        # A runaway query must not stall every other signal: interrupt it after `timeout`,
        # fetching included.
        with QueryGuard(con, timeout):
            # On an as-of connection (connect_sandbox(as_of=True)) the marts show what was
            # known at eval_at (the first signal at it pays for re-deriving the runs in
            # flight); on any other, the variable is unused.
            set_eval_at(con, eval_at)
            result = con.execute(sql, signal.bind(eval_at))
            columns = [d[0] for d in result.description]
            types = [str(d[1]) for d in result.description]
            rows = result.fetchall() if cap is None else result.fetchmany(cap + 1)
        if cap is not None and len(rows) > cap:
            raise ValueError(
                f"returned more than {cap} instances (limit): nothing applied; group by fewer "
                "labels, filter more, or raise the signal's limit (at most alerts.instance_limit)"
            )
        samples = samples_from(columns, types, rows)
        check_identities(signal, samples)
        error = None
    except duckdb.InterruptException:
        samples, error = [], f"timed out after {timeout:g}s (alerts.query_timeout)"
    except (duckdb.Error, ValueError) as exc:
        samples, error = [], " ".join(str(exc).split())
    seconds = time.perf_counter() - started
    if error:
        log.error("signal %s at %s failed in %.3fs: %s", signal.name, eval_at, seconds, error)
    else:
        log.info("signal %s at %s: %d rows in %.3fs", signal.name, eval_at, len(samples), seconds)
    return Evaluation(signal, eval_at, samples, error, seconds)
