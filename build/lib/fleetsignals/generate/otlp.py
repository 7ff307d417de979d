"""OTLP/JSON building blocks in the canonical proto3 JSON mapping the Collector writes:
lowerCamelCase keys, hex ids, int64 as decimal strings, enums as integers.
"""

from __future__ import annotations

from typing import Any

# SpanKind and StatusCode enum values (opentelemetry/proto/trace/v1/trace.proto).
KIND_INTERNAL = 1
KIND_SERVER = 2
KIND_CLIENT = 3
STATUS_UNSET = 0
STATUS_OK = 1
STATUS_ERROR = 2
# W3C flags with SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK set, as current SDKs export.
FLAGS_LOCAL = 256


# Attributes repeat endlessly (operation names, models, tenants): one shared, never
# mutated KeyValue per (key, value) keeps building millions of them cheap.
_SHARED: dict[tuple[str, Any], dict] = {}
_SHARED_MAX = 500_000


def kv(key: str, value: Any) -> dict:
    """One KeyValue; the AnyValue type follows the Python type (bool before int)."""
    kind = type(value)
    if kind is str or kind is bool:
        hit = _SHARED.get((key, value))
        if hit is None:
            if len(_SHARED) >= _SHARED_MAX:
                _SHARED.clear()
            hit = _SHARED[(key, value)] = {"key": key, "value": any_value(value)}
        return hit
    if kind is int:
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": any_value(value)}


def kv_unique(key: str, value: str) -> dict:
    """A string KeyValue whose value never repeats (ids, arguments): not shared."""
    return {"key": key, "value": {"stringValue": value}}


def any_value(value: Any) -> dict:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def span_json(
    *,
    trace_id: str,
    span_id: str,
    parent_id: str | None,
    name: str,
    kind: int,
    start_ns: int,
    end_ns: int,
    attributes: list[dict],
    status: int = STATUS_UNSET,
    message: str = "",
    events: list[dict] | None = None,
) -> dict:
    """A Span message; default-valued fields are omitted as proto3 JSON does."""
    span: dict[str, Any] = {"traceId": trace_id, "spanId": span_id}
    if parent_id:
        span["parentSpanId"] = parent_id
    span["flags"] = FLAGS_LOCAL
    span["name"] = name
    span["kind"] = kind
    span["startTimeUnixNano"] = str(start_ns)
    span["endTimeUnixNano"] = str(end_ns)
    span["attributes"] = attributes
    if events:
        span["events"] = events
    st: dict[str, Any] = {}
    if message:
        st["message"] = message
    if status:
        st["code"] = status
    span["status"] = st
    return span


def exception_event(time_ns: int, exc_type: str, message: str) -> dict:
    """The `exception` span event instrumentations record on a failure."""
    return {
        "timeUnixNano": str(time_ns),
        "name": "exception",
        "attributes": [kv("exception.type", exc_type), kv("exception.message", message)],
    }
