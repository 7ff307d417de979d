"""OTLP/HTTP bodies -> OTLP/JSON messages, and the answers the specification asks for.

A protobuf ``ExportTraceServiceRequest`` is converted with ``json_format`` and
its ids rewritten as hex (OTLP/JSON's encoding; ``json_format`` writes bytes as
base64). A JSON body is read as ingest reads it (either key case). Spans whose
trace or span id cannot be read are rejected here, so the sender learns it from
the partial success; everything else is ingest's to judge.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

# One reader of ids for ingest and the receiver. ingest/values.py keeps it private.
from fleetsignals.ingest.values import _id as read_id

_HEX = re.compile(r"[0-9a-f]+")
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
ENCODINGS = (PROTOBUF, JSON)

# google.rpc.Code values for the Status body of error answers.
INVALID_ARGUMENT = 3
RESOURCE_EXHAUSTED = 8
UNAUTHENTICATED = 16
UNAVAILABLE = 14


class BadRequest(Exception):
    """The body cannot be read: answer 400 with this message."""


class TooLarge(Exception):
    """The body is larger than allowed once decompressed: answer 413."""


@dataclass(frozen=True)
class Decoded:
    """A request body read: the message to write (None: no spans left) and what was rejected."""

    message: dict[str, Any] | None
    accepted: int
    rejected: int
    error: str = ""


def gunzip(body: bytes, limit: int) -> bytes:
    """Decompress a gzip body, refusing more than ``limit`` bytes (a small body may expand a lot)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BadRequest(f"corrupt gzip body: {exc}") from None
    if len(out) > limit:
        raise TooLarge(f"the body is larger than {limit} bytes once decompressed")
    if not inflater.eof:
        raise BadRequest("corrupt gzip body: it ends inside the stream")
    return out


def _from_protobuf(body: bytes) -> dict[str, Any]:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise BadRequest(f"not an ExportTraceServiceRequest (protobuf): {exc}") from None
    return json_format.MessageToDict(request, use_integers_for_enums=True)


def _from_json(body: bytes) -> dict[str, Any]:
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"invalid JSON: {exc}") from None
    if not isinstance(message, dict):
        raise BadRequest(
            f"expected an ExportTraceServiceRequest object, got a JSON {type(message).__name__}"
        )
    return message


def _either(obj: dict[str, Any], camel: str, snake: str) -> Any:
    return obj[camel] if camel in obj else obj.get(snake)


def _list(value: Any, what: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise BadRequest(f"malformed OTLP: {what} must be a list of objects")
    return value


def _hex_ids(obj: dict[str, Any], keys: tuple[tuple[str, str, int], ...]) -> bool:
    """Rewrite ids in place as lower-case hex; False when a required one cannot be read."""
    ok = True
    for camel, snake, nbytes in keys:
        key = camel if camel in obj else snake
        raw = obj.get(key)
        value = read_id(raw, nbytes)
        readable = value is not None and len(value) == 2 * nbytes and _HEX.fullmatch(value)
        if camel == "parentSpanId":  # absent, empty or all-zero: a root span
            ok = ok and (not raw or bool(readable))
        else:
            ok = ok and bool(readable) and value != "0" * (2 * nbytes)
        if readable:
            obj[key] = value
    return ok


_SPAN_IDS = (
    ("traceId", "trace_id", 16),
    ("spanId", "span_id", 8),
    ("parentSpanId", "parent_span_id", 8),
)
_LINK_IDS = (("traceId", "trace_id", 16), ("spanId", "span_id", 8))


def _keep_readable_spans(message: dict[str, Any]) -> tuple[int, int]:
    """Drop spans whose ids cannot be read; (accepted, rejected)."""
    accepted = rejected = 0
    for resource in _list(_either(message, "resourceSpans", "resource_spans"), "resourceSpans"):
        for key in (
            "scopeSpans",
            "scope_spans",
            "instrumentationLibrarySpans",
            "instrumentation_library_spans",
        ):
            for scope in _list(resource.get(key), key):
                spans = _list(scope.get("spans"), "spans")
                kept = []
                for span in spans:
                    links = _list(span.get("links"), "links")
                    if _hex_ids(span, _SPAN_IDS):
                        for link in links:
                            _hex_ids(link, _LINK_IDS)  # an unreadable link is ingest's to report
                        kept.append(span)
                scope["spans"] = kept
                accepted += len(kept)
                rejected += len(spans) - len(kept)
    return accepted, rejected


def decode(body: bytes, content_type: str) -> Decoded:
    """Read a request body of ``content_type`` (one of ENCODINGS); raises BadRequest."""
    message = _from_protobuf(body) if content_type == PROTOBUF else _from_json(body)
    if "resourceSpans" not in message and "resource_spans" not in message and message:
        keys = ", ".join(list(message)[:5])
        raise BadRequest(f"not OTLP trace data: an object with keys {keys}, expected resourceSpans")
    accepted, rejected = _keep_readable_spans(message)
    error = (
        f"{rejected} span(s) rejected: missing, invalid or all-zero trace or span id"
        if rejected
        else ""
    )
    return Decoded(message if accepted else None, accepted, rejected, error)


def success(decoded: Decoded, content_type: str) -> bytes:
    """The ``ExportTraceServiceResponse`` body, with a partial success when spans were rejected."""
    response = ExportTraceServiceResponse()
    if decoded.rejected:
        response.partial_success.rejected_spans = decoded.rejected
        response.partial_success.error_message = decoded.error
    if content_type == PROTOBUF:
        return response.SerializeToString()
    return orjson.dumps(json_format.MessageToDict(response))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def status(code: int, message: str, content_type: str) -> bytes:
    """A ``google.rpc.Status`` body (code, message) in the request's encoding.

    Two scalar fields: encoded by hand rather than depending on googleapis-common-protos.
    """
    if content_type == PROTOBUF:
        text = message.encode()
        return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text
    return orjson.dumps({"code": code, "message": message})
