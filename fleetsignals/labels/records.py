"""Label files -> label rows: CSV or JSON lines (or one JSON array), plain, gzip or zstd.

Tolerant the way ingest is: keys in snake_case or lowerCamelCase and a few common
aliases (``trace_id`` for ``run_id``, ``value`` for ``score`` ...), ids as hex (any case)
or base64, times as ISO-8601 or unix seconds / milliseconds / nanoseconds, unknown
columns ignored. A row that cannot be a label (no run id, no name, neither a score nor
a label, an implausible time) is set aside as a ``Problem`` with its line number; the
rest lands. The columns are in ``LABEL_SCHEMA``; docs/labels.md is the user's guide.
"""

from __future__ import annotations

import csv
import io
import math
import re
from datetime import datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa

from fleetsignals.errors import FleetsignalsError
from fleetsignals.ingest.parse import Problem
from fleetsignals.ingest.sources import SourceError
from fleetsignals.ingest.values import _id as normalize_id
from fleetsignals.ingest.values import cut_text
from fleetsignals.timeutil import parse_time

TS = pa.timestamp("us")
LABEL_SCHEMA = pa.schema(
    [
        ("label_id", pa.string()),  # <source sha256[:16]>:<line>, unique per landed row
        ("run_id", pa.string()),  # the run (trace) id, 32 lower-case hex
        ("span_id", pa.string()),  # optional: the span judged, 16 lower-case hex
        ("name", pa.string()),  # what was judged: helpfulness, correctness, thumbs ...
        ("score", pa.float64()),  # numeric score, if any
        ("label", pa.string()),  # categorical label, if any (trimmed, lower case)
        ("source", pa.string()),  # human, judge:<model>, ... (lower case)
        ("given_at", TS),  # when the label was given (the producer's word)
        ("annotator", pa.string()),
        ("comment", pa.string()),
        ("source_sha256", pa.string()),  # content hash of the label file
        ("line", pa.int64()),  # line (CSV: record) number in the label file
        ("landed_at", TS),  # when it landed: labels count from this moment
    ]
)

# Accepted spellings of each column, first present wins (compared without '_', '-', '.'
# and case, so runId, run-id and RUN_ID are all run_id).
ALIASES: dict[str, tuple[str, ...]] = {
    "run_id": ("run_id", "trace_id", "runid"),
    "span_id": ("span_id",),
    "name": ("name", "score_name", "evaluation_name", "metric"),
    "score": ("score", "score_value", "value"),
    "label": ("label", "score_label", "rating"),
    "source": ("source", "kind", "origin"),
    "given_at": ("given_at", "timestamp", "time", "created_at", "labelled_at", "labeled_at"),
    "annotator": ("annotator", "user", "reviewer"),
    "comment": ("comment", "explanation", "note"),
}
TEXT_LIMIT = 4096  # characters kept of a comment or annotator; names, labels: 200
_SHORT = 200
_SEPARATORS = re.compile(r"[_\-. ]")


def _key(name: str) -> str:
    return _SEPARATORS.sub("", name).lower()


_LOOKUP = {_key(alias): column for column, aliases in ALIASES.items() for alias in aliases}


class RowError(ValueError):
    """One row is not a label; the message says which field and why."""


def read_rows(data: bytes) -> list[tuple[int, dict[str, Any] | None, str | None]]:
    """(line, fields, error) per record: JSON lines, a JSON array, or CSV with a header."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    head = text.lstrip()[:1]
    if head == "[":
        try:
            items = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise SourceError(f"invalid JSON array: {exc}") from None
        return [(i + 1, *_object(item)) for i, item in enumerate(items)]
    if head == "{":
        out = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                out.append((number, *_object(orjson.loads(line))))
            except orjson.JSONDecodeError as exc:
                out.append((number, None, f"invalid JSON: {exc}"))
        return out
    return _csv_rows(text)


def _object(item: Any) -> tuple[dict[str, Any] | None, str | None]:
    if not isinstance(item, dict):
        return None, "not a JSON object"
    return item, None


def _csv_rows(text: str) -> list[tuple[int, dict[str, Any] | None, str | None]]:
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = reader.fieldnames or []
    if not any(_LOOKUP.get(_key(h or "")) == "run_id" for h in header):
        raise SourceError(
            "no run_id (or trace_id) column: a CSV label file needs a header row naming "
            "run_id, name, score and/or label (docs/labels.md)"
        )
    out = []
    try:
        for row in reader:
            fields = {k: v for k, v in row.items() if k is not None and v not in (None, "")}
            out.append((reader.line_num, fields, None))
    except csv.Error as exc:
        raise SourceError(f"invalid CSV at line {reader.line_num}: {exc}") from None
    return out


def _pick(fields: dict[str, Any]) -> dict[str, Any]:
    picked: dict[str, Any] = {}
    for key, value in fields.items():
        column = _LOOKUP.get(_key(str(key)))
        if column is not None and column not in picked and value not in (None, ""):
            picked[column] = value
    return picked


def _text(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int | float | bool):
        raise RowError(f"expected text, got {type(value).__name__}")
    text = str(value).strip()
    return (cut_text(text, limit) if len(text) > limit else text) or None


def _score(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RowError(f"score {str(value)[:40]!r} is not a number") from None
    if not math.isfinite(number):
        raise RowError("score must be a finite number")
    return number


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        or (isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value.strip()))
    ):
        number = float(value)
        # Unix seconds, milliseconds, microseconds or nanoseconds, told apart by size.
        for scale in (1, 1e3, 1e6, 1e9):
            if number / scale < 1e10:
                return datetime(1970, 1, 1) + timedelta(seconds=number / scale)
    if not isinstance(value, str):
        raise RowError("given_at must be an ISO-8601 time or unix seconds")
    try:
        return parse_time(value)
    except FleetsignalsError as exc:
        raise RowError(str(exc)) from None


def label_row(
    fields: dict[str, Any], landed_at: datetime, max_future: timedelta | None
) -> dict[str, Any]:
    """One label row (LABEL_SCHEMA columns but lineage) from a record's fields."""
    picked = _pick(fields)
    raw_run = _text(picked.get("run_id"), _SHORT)
    if raw_run is None:
        raise RowError("no run_id (or trace_id)")
    run_id = normalize_id(raw_run, 16)
    if run_id is None or not re.fullmatch(r"[0-9a-f]{32}", run_id):
        raise RowError("run_id must be a trace id: 32 hex digits or base64 of 16 bytes")
    span_id = None
    if picked.get("span_id") is not None:
        span_id = normalize_id(_text(picked["span_id"], _SHORT), 8)
        if span_id is None or not re.fullmatch(r"[0-9a-f]{16}", span_id):
            raise RowError("span_id must be 16 hex digits or base64 of 8 bytes")
    name = _text(picked.get("name"), _SHORT)
    if name is None:
        raise RowError("no name (what was judged, e.g. helpfulness)")
    score = _score(picked.get("score"))
    label = _text(picked.get("label"), _SHORT)
    if score is None and label is None:
        raise RowError("neither a score nor a label")
    given_at = _time(picked.get("given_at")) or landed_at
    if max_future is not None and given_at > landed_at + max_future:
        raise RowError(
            f"given_at {given_at.isoformat()}Z is after the file landed "
            f"(more than ingest.max_future): a clock running ahead"
        )
    return {
        "run_id": run_id,
        "span_id": span_id,
        "name": name,
        "score": score,
        "label": label.lower() if label else None,
        "source": (_text(picked.get("source"), _SHORT) or "unspecified").lower(),
        "given_at": given_at,
        "annotator": _text(picked.get("annotator"), TEXT_LIMIT),
        "comment": _text(picked.get("comment"), TEXT_LIMIT),
    }


def parse_labels(
    data: bytes, sha256: str, landed_at: datetime, max_future: timedelta | None
) -> tuple[pa.Table, list[Problem]]:
    """A label file's rows as a LABEL_SCHEMA table, and the rows set aside."""
    rows: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for line, fields, error in read_rows(data):
        if fields is not None and error is None:
            try:
                row = label_row(fields, landed_at, max_future)
            except RowError as exc:
                error = str(exc)
            else:
                row.update(
                    label_id=f"{sha256[:16]}:{line}",
                    source_sha256=sha256,
                    line=line,
                    landed_at=landed_at,
                )
                rows.append(row)
                continue
        record = orjson.dumps(fields).decode() if fields is not None else None
        problems.append(Problem(line, error or "not a label", record))
    columns = {f.name: [r[f.name] for r in rows] for f in LABEL_SCHEMA}
    return pa.Table.from_pydict(columns, schema=LABEL_SCHEMA), problems
