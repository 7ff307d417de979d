"""The report's time window: given, else the data's range capped at its last 24 hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

from fleetsignals.errors import FleetsignalsError
from fleetsignals.timeutil import format_time

DEFAULT_SPAN = timedelta(hours=24)


@dataclass(frozen=True)
class Window:
    """Runs that started in [start, end] and rolling windows that ended in it are shown."""

    start: datetime
    end: datetime

    def text(self) -> str:
        return f"{format_time(self.start)} .. {format_time(self.end)}"


def resolve_window(
    con: duckdb.DuckDBPyConnection, start: datetime | None, end: datetime | None
) -> Window | None:
    """The window to report; None when neither bound is given and there are no runs."""
    if start is not None and end is not None and end <= start:
        raise FleetsignalsError(
            f"--end {format_time(end)} is not after --start {format_time(start)}: "
            "give a start time before the end time"
        )
    first, last = con.execute("select min(started_at), max(last_span_at) from fct_runs").fetchone()
    if end is None:
        if last is not None and (start is None or last > start):
            end = last
        elif start is not None:
            end = start + DEFAULT_SPAN
        else:
            return None
    if start is None:
        start = end - DEFAULT_SPAN
        if first is not None and start < first < end:
            start = first
    return Window(start, end)
