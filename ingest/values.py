"""OTLP ``AnyValue`` -> plain JSON, for the nested values SQL cannot recurse into.

Scalars are converted in SQL (``ingest/otlp_sql.py``); arrays, kvlists, events and
links come here as JSON text. The JSON we store keeps OTLP types: int as a JSON
integer, double as a JSON number with a fraction or exponent (``1.0``), bool,
string, array, object (kvlist); bytes as a base64 string; non-finite doubles as
the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

import orjson

# Either spelling of each AnyValue member (protobuf JSON accepts both).
_STRING = ("stringValue", "string_value")
_INT = ("intValue", "int_value")
_DOUBLE = ("doubleValue", "double_value")
_BOOL = ("boolValue", "bool_value")
_BYTES = ("bytesValue", "bytes_value")
_ARRAY = ("arrayValue", "array_value")
_KVLIST = ("kvlistValue", "kvlist_value")

Redactor = Callable[[str], bool]
_HEX = re.compile(r"[0-9a-fA-F]+")


def _first(mapping: dict[str, Any], names: tuple[str, str]) -> Any:
    value = mapping.get(names[0])
    return mapping.get(names[1]) if value is None else value


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


def _int(raw: Any) -> Any:
    if isinstance(raw, bool):
        return int(raw)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str):
        try:
            return int(raw)
        except ValueError:
            return raw  # keep what was sent rather than drop it
    return None


def plain_value(value: Any) -> Any:
    """Convert one OTLP AnyValue (a dict) to a plain JSON-able value."""
    if not isinstance(value, dict):
        return value
    raw = _first(value, _STRING)
    if raw is not None:
        return raw
    raw = _first(value, _INT)
    if raw is not None:
        return _int(raw)
    raw = _first(value, _DOUBLE)
    if raw is not None:
        return _double(raw)
    raw = _first(value, _BOOL)
    if raw is not None:
        return raw if isinstance(raw, bool) else str(raw).lower() == "true"
    raw = _first(value, _BYTES)
    if raw is not None:
        return raw
    raw = _first(value, _ARRAY)
    if raw is not None:
        items = raw.get("values") if isinstance(raw, dict) else None
        return [plain_value(v) for v in items or ()]
    raw = _first(value, _KVLIST)
    if raw is not None:
        items = raw.get("values") if isinstance(raw, dict) else None
        return plain_attributes(items or ())
    return None


def plain_attributes(items: Iterable[Any], redact: Redactor | None = None) -> dict[str, Any]:
    """OTLP ``[{key, value}]`` -> ``{key: plain value}``; redacted keys dropped."""
    out: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            continue
        key = item["key"]
        if redact is not None and redact(key):
            continue
        out[key] = plain_value(item.get("value"))
    return out


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def any_json(raw: str) -> str:
    """JSON text of one AnyValue given as its JSON text (arrays, kvlists, odd spellings)."""
    return _json(plain_value(orjson.loads(raw)))


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
