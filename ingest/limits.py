"""What an untrusted trace producer may send: plausible span times and bounded attributes.

Times are judged against the landing time of the span's file (never the wall clock
later), so landing or rebuilding judges the same way. A span ending far after its
file landed, starting far before it (only if ``ingest.max_past`` is set: backfills
are normal) or lasting absurdly long is quarantined with the reason; the rest of
the file lands. The check runs on the parser's output, in the parent process, so
the in-process, worker-process and batched paths apply it alike.

Attribute limits are applied while attributes are converted (``ingest/values.py``):
see ``AttributeLimits`` there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from fleetsignals.errors import FleetsignalsError
from fleetsignals.ingest.parse import Problem
from fleetsignals.ingest.values import AttributeLimits
from fleetsignals.timeutil import format_time, parse_duration

_EPOCH = datetime(1970, 1, 1)
_JSON_COLUMNS = ("attributes", "resource_attributes", "scope_attributes", "events", "links")
_NOT_SPAN = ("dt", "hr", "line_no", "problem", "rejected")
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
CUT_ERROR = (
    "attributes cut in the lake (a value over ingest.attribute_value_length_limit characters,"
    " or a list over ingest.attribute_count_limit entries); the span landed cut, this record"
    " is the whole span as sent"
)


@dataclass(frozen=True)
class TimeBounds:
    """``ingest.max_future`` / ``max_past`` / ``max_duration`` (None: no bound), as config text."""

    max_future: str | None
    max_past: str | None
    max_duration: str | None

    def ns(self, name: str) -> int | None:
        text = getattr(self, name)
        if text is None:
            return None
        try:
            return int(parse_duration(text).total_seconds() * 1e9)
        except FleetsignalsError as exc:
            raise FleetsignalsError(f"config ingest.{name}: {exc}") from None


@dataclass(frozen=True)
class Limits:
    """Every bound ingest applies to producers' data, from the config's ``ingest:``."""

    times: TimeBounds
    attributes: AttributeLimits

    @classmethod
    def from_config(cls, ingest: dict[str, Any]) -> Limits:
        times = TimeBounds(ingest["max_future"], ingest["max_past"], ingest["max_duration"])
        for name in ("max_future", "max_past", "max_duration"):
            times.ns(name)  # an invalid duration fails before anything is read
        attributes = AttributeLimits(
            int(ingest["attribute_value_length_limit"]), int(ingest["attribute_count_limit"])
        )
        return cls(times, attributes)


def _ns(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def _time(ns: int) -> str:
    return format_time(_EPOCH + timedelta(microseconds=ns // 1000))


def _record(row: dict[str, Any]) -> str:
    """The span as it would have landed, as JSON (nothing of it is lost)."""
    span = {k: v for k, v in row.items() if k not in _NOT_SPAN}
    for name in _JSON_COLUMNS:
        if isinstance(span.get(name), str):
            span[name] = orjson.Fragment(span[name])
    return orjson.dumps(span).decode()


def _reason(row: dict[str, Any], bounds: TimeBounds, landed_ns: int) -> str:
    start, end = row["start_ns"], row["end_ns"]
    landed = _time(landed_ns)
    future, past = bounds.ns("max_future"), bounds.ns("max_past")
    if future is not None and end > landed_ns + future:
        return (
            f"end time in the future: {_time(end)}, more than ingest.max_future"
            f" ({bounds.max_future}) after its file landed at {landed}"
        )
    if past is not None and start < landed_ns - past:
        return (
            f"start time too far in the past: {_time(start)}, more than ingest.max_past"
            f" ({bounds.max_past}) before its file landed at {landed}"
        )
    return (
        f"duration too long: {(end - start) / 1e9:.0f}s, more than ingest.max_duration"
        f" ({bounds.max_duration})"
    )


def _clamped(ns: int) -> int:
    return max(_INT64_MIN, min(_INT64_MAX, ns))


def _implausible(table: pa.Table, landed_ns: int, bounds: TimeBounds) -> pa.ChunkedArray | None:
    start, end = table["start_ns"], table["end_ns"]
    masks = []
    future, past, duration = (bounds.ns(n) for n in ("max_future", "max_past", "max_duration"))
    if future is not None:
        masks.append(pc.greater(end, _clamped(landed_ns + future)))
    if past is not None:
        masks.append(pc.less(start, _clamped(landed_ns - past)))
    if duration is not None:
        masks.append(pc.greater(pc.subtract(end, start), _clamped(duration)))
    if not masks:
        return None
    bad = masks[0]
    for mask in masks[1:]:
        bad = pc.or_(bad, mask)
    return bad


def screen_spans(
    table: pa.Table | None, found: list[Problem], landed_at: datetime, bounds: TimeBounds
) -> tuple[pa.Table | None, list[Problem]]:
    """The parser's span rows less those with implausible times, and the problems to
    quarantine in line order: the parser's (``found``), those spans (not landed), and the
    spans the attribute limits cut (landed cut; the problem holds each whole, as sent)."""
    if table is None or table.num_rows == 0:
        return table, found
    problems = list(found)
    landed_ns = _ns(landed_at)
    bad = _implausible(table, landed_ns, bounds)
    if bad is not None and pc.any(bad).as_py():
        for row in table.filter(bad).to_pylist():
            record = row["rejected"] or _record(row)  # a cut span: whole, as sent
            problems.append(Problem(row["line_no"], _reason(row, bounds, landed_ns), record))
        table = table.filter(pc.invert(bad))
    cut = pc.is_valid(table["rejected"])
    if pc.any(cut).as_py():
        for row in table.filter(cut).select(["line_no", "rejected"]).to_pylist():
            problems.append(Problem(row["line_no"], CUT_ERROR, row["rejected"], landed=True))
    if len(problems) > len(found):
        problems.sort(key=lambda problem: problem.line)  # stable: a record's own order kept
    return table, problems
