"""OTLP ``AnyValue`` and attribute lists -> plain JSON, for the lake's JSON columns.

Called from the DuckDB span query (``ingest/otlp_sql.py``) with each attribute
list as raw JSON text. The JSON written keeps OTLP types: int as a JSON integer,
double as a JSON number with a fraction or exponent (``1.0``), bool, string,
array, object (kvlist); bytes as a base64 string; non-finite doubles as the
strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``; an empty value as null.
Either spelling of each member is accepted; unknown members are ignored.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

import orjson

# AnyValue member (either spelling) -> kind.
_KINDS = {
    "stringValue": "s",
    "string_value": "s",
    "intValue": "i",
    "int_value": "i",
    "doubleValue": "d",
    "double_value": "d",
    "boolValue": "b",
    "bool_value": "b",
    "bytesValue": "x",
    "bytes_value": "x",
    "arrayValue": "a",
    "array_value": "a",
    "kvlistValue": "k",
    "kvlist_value": "k",
}

Redactor = Callable[[str], bool]
_HEX = re.compile(r"[0-9a-fA-F]+")


def _double(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            raw = float(raw)
        except ValueError:
            return raw
    if isinstance(raw, int | float):
        value = float(raw)
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    return None


_INT_MIN, _INT_LIMIT = -(1 << 63), 1 << 64  # what JSON writers (and orjson) take


def _int(raw: Any) -> Any:
    if isinstance(raw, bool):
        return int(raw)
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, str):
        try:
            raw = int(raw)
        except ValueError:
            return raw  # keep what was sent rather than drop it
    if isinstance(raw, int):
        return raw if _INT_MIN <= raw < _INT_LIMIT else str(raw)
    return None


def plain_value(value: Any) -> Any:
    """Convert one OTLP AnyValue (a dict) to a plain JSON-able value."""
    if type(value) is not dict:
        return None
    for member, raw in value.items():
        kind = _KINDS.get(member)
        if kind is None or raw is None:
            continue  # an unknown member, or an explicit null
        if kind == "s" or kind == "x":
            return raw
        if kind == "i":
            return _int(raw)
        if kind == "d":
            return _double(raw)
        if kind == "b":
            return raw if type(raw) is bool else str(raw).lower() == "true"
        items = raw.get("values") if type(raw) is dict else None
        if kind == "a":
            return [plain_value(v) for v in items or ()]
        return plain_attributes(items or ())
    return None


def plain_attributes(items: Iterable[Any], redact: Redactor | None = None) -> dict[str, Any]:
    """OTLP ``[{key, value}]`` -> ``{key: plain value}``; redacted keys dropped."""
    out: dict[str, Any] = {}
    for item in items:
        key = item.get("key") if type(item) is dict else None
        if type(key) is not str or (redact is not None and redact(key)):
            continue
        out[key] = plain_value(item.get("value"))
    return out


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def attributes_json(raw: str | None, redact: Redactor | None = None) -> str:
    """OTLP ``[{key, value}]`` as JSON text (or null) -> the plain-value object as JSON text."""
    if not raw or raw == "null":
        return "{}"
    items = orjson.loads(raw)
    return _json(plain_attributes(items if isinstance(items, list) else (), redact))


def _ns(raw: Any) -> int | None:
    value = _int(raw)
    return value if isinstance(value, int) else None


def _id(raw: Any, nbytes: int) -> str | None:
    """Hex (any case) or base64 id -> lower-case hex; unparseable ids are kept as sent."""
    if not isinstance(raw, str) or not raw:
        return None
    if len(raw) == 2 * nbytes and _HEX.fullmatch(raw):
        return raw.lower()
    try:
        data = base64.b64decode(
            raw + "=" * (-len(raw) % 4), altchars=b"-_" if "-" in raw or "_" in raw else None
        )
    except (binascii.Error, ValueError):
        return raw
    return data.hex() if len(data) == nbytes else raw


def events_json(raw: str, redact: Redactor | None = None) -> str:
    """OTLP span events (JSON text) -> ``[{name, time_ns, attributes}]``."""
    out = []
    for event in orjson.loads(raw) or ():
        if not isinstance(event, dict):
            continue
        time_ns = event.get("timeUnixNano", event.get("time_unix_nano"))
        attributes = event.get("attributes") or ()
        out.append(
            {
                "name": event.get("name"),
                "time_ns": _ns(time_ns),
                "attributes": plain_attributes(attributes, redact),
            }
        )
    return _json(out)


def links_json(raw: str, redact: Redactor | None = None) -> str:
    """OTLP span links (JSON text) -> ``[{trace_id, span_id, trace_state, attributes}]``."""
    out = []
    for link in orjson.loads(raw) or ():
        if not isinstance(link, dict):
            continue
        out.append(
            {
                "trace_id": _id(link.get("traceId", link.get("trace_id")), 16),
                "span_id": _id(link.get("spanId", link.get("span_id")), 8),
                "trace_state": link.get("traceState", link.get("trace_state")) or None,
                "attributes": plain_attributes(link.get("attributes") or (), redact),
            }
        )
    return _json(out)
