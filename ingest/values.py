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
from dataclasses import dataclass, field
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


_UNLIMITED = 1 << 62


@dataclass(frozen=True)
class AttributeLimits:
    """``ingest.attribute_value_length_limit`` and ``attribute_count_limit``; 0: no limit."""

    value_length: int = 0
    count: int = 0
    # JSON text shorter than this cannot break the limits: a decoded string is never
    # longer than its JSON text, and a list of n entries takes at least 2n - 1 characters.
    safe_below: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        length = self.value_length or _UNLIMITED
        count = self.count or _UNLIMITED
        object.__setattr__(self, "safe_below", min(length + 1, 2 * count))


NO_LIMITS = AttributeLimits()
# Prefixed to a conversion's JSON text when the limits cut something. JSON text never
# holds a raw control character (orjson escapes them inside strings), so no producer
# can forge it; the span query strips it (``ingest/otlp_sql.py``).
CUT = "\x01"


def cut_text(text: str, limit: int) -> str:
    """A string over the length limit: its first ``limit`` characters and a marker."""
    return f"{text[:limit]}…[cut by fleetsignals: {len(text)} characters]"


class _Converter:
    """One conversion of a list: plain values within the limits; ``cut`` if it cut anything."""

    __slots__ = ("count", "cut", "length", "redact")

    def __init__(self, limits: AttributeLimits, redact: Redactor | None) -> None:
        self.length = limits.value_length or _UNLIMITED
        self.count = limits.count or _UNLIMITED
        self.redact = redact
        self.cut = False

    def text(self, raw: Any) -> Any:
        if type(raw) is str and len(raw) > self.length:
            self.cut = True
            return cut_text(raw, self.length)
        return raw

    def entries(self, items: Any) -> list:
        """A list of entries, at most ``count`` (anything that is not a list: none)."""
        if type(items) is not list:
            return []
        if len(items) > self.count:
            self.cut = True
            return items[: self.count]
        return items

    def value(self, value: Any) -> Any:
        """One OTLP AnyValue (a dict) -> a plain JSON-able value."""
        if type(value) is not dict:
            return None
        for member, raw in value.items():
            kind = _KINDS.get(member)
            if kind is None or raw is None:
                continue  # an unknown member, or an explicit null
            if kind == "s" or kind == "x":
                if type(raw) is str and len(raw) > self.length:  # inlined: the hot path
                    self.cut = True
                    return cut_text(raw, self.length)
                return raw
            if kind == "i":
                return _int(raw)
            if kind == "d":
                return _double(raw)
            if kind == "b":
                return raw if type(raw) is bool else str(raw).lower() == "true"
            items = raw.get("values") if type(raw) is dict else None
            if kind == "a":
                return [self.value(v) for v in self.entries(items)]
            return self.attributes(items, with_redaction=False)
        return None

    def attributes(self, items: Any, with_redaction: bool = True) -> dict[str, Any]:
        """OTLP ``[{key, value}]`` -> ``{key: plain value}``; redacted keys dropped."""
        out: dict[str, Any] = {}
        redact = self.redact if with_redaction else None
        if type(items) is not list:
            return out
        for item in items:
            key = item.get("key") if type(item) is dict else None
            if type(key) is not str or (redact is not None and redact(key)):
                continue
            if len(out) >= self.count and key not in out:
                self.cut = True
                break
            if len(key) > self.length:
                key = self.text(key)
            out[key] = self.value(item.get("value"))
        return out

    def json(self, value: Any) -> str:
        text = _json(value)
        return CUT + text if self.cut else text


# The fast path: the same conversion without the limit checks, for lists whose JSON text
# is too short to break a limit (``AttributeLimits.safe_below``): most spans. Checking costs about 15 % of
# the conversion, which is the largest part of the ingest's CPU time
# (tests/ingest/test_limits.py checks both paths convert alike).


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
            return [plain_value(v) for v in items] if type(items) is list else []
        return plain_attributes(items if type(items) is list else ())
    return None


def plain_attributes(items: Iterable[Any], redact: Redactor | None = None) -> dict[str, Any]:
    """OTLP ``[{key, value}]`` -> ``{key: plain value}``; redacted keys dropped."""
    out: dict[str, Any] = {}
    for item in items:
        key = item.get("key") if type(item) is dict else None
        if type(key) is not str or (redact is not None and redact(key)):
            continue
        value = item.get("value")
        # Most values are one stringValue: what plain_value returns for it, without the
        # call and the member loop (about 15 % of the conversion).
        if type(value) is dict and len(value) == 1:
            raw = value.get("stringValue")
            if raw is not None:
                out[key] = raw
                continue
        out[key] = plain_value(value)
    return out


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def attributes_json(
    raw: str | None, redact: Redactor | None = None, limits: AttributeLimits = NO_LIMITS
) -> str:
    """OTLP ``[{key, value}]`` as JSON text (or null) -> the plain-value object as JSON text
    (prefixed by ``CUT`` if the limits cut it)."""
    if not raw or raw == "null":
        return "{}"
    items = orjson.loads(raw)
    if type(items) is not list:
        return "{}"
    if len(raw) < limits.safe_below:
        return _json(plain_attributes(items, redact))
    converter = _Converter(limits, redact)
    return converter.json(converter.attributes(items))


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


def events_json(
    raw: str, redact: Redactor | None = None, limits: AttributeLimits = NO_LIMITS
) -> str:
    """OTLP span events (JSON text) -> ``[{name, time_ns, attributes}]`` (``CUT``-prefixed if cut)."""
    converter = _Converter(limits, redact)
    out = []
    for event in converter.entries(orjson.loads(raw)):
        if not isinstance(event, dict):
            continue
        time_ns = event.get("timeUnixNano", event.get("time_unix_nano"))
        attributes = event.get("attributes") or ()
        out.append(
            {
                "name": converter.text(event.get("name")),
                "time_ns": _ns(time_ns),
                "attributes": converter.attributes(attributes),
            }
        )
    return converter.json(out)


def links_json(
    raw: str, redact: Redactor | None = None, limits: AttributeLimits = NO_LIMITS
) -> str:
    """OTLP span links (JSON text) -> ``[{trace_id, span_id, trace_state, attributes}]``
    (``CUT``-prefixed if cut)."""
    converter = _Converter(limits, redact)
    out = []
    for link in converter.entries(orjson.loads(raw)):
        if not isinstance(link, dict):
            continue
        out.append(
            {
                "trace_id": converter.text(_id(link.get("traceId", link.get("trace_id")), 16)),
                "span_id": converter.text(_id(link.get("spanId", link.get("span_id")), 8)),
                "trace_state": converter.text(
                    link.get("traceState", link.get("trace_state")) or None
                ),
                "attributes": converter.attributes(link.get("attributes") or ()),
            }
        )
    return converter.json(out)
