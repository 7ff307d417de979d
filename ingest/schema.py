"""The span lake's schema: one row per span. Every later layer reads these columns.

Times are naive UTC (portable ``timestamp``); ids are lower-case hex.
JSON columns hold values with their OTLP types kept (int, double, bool,
string, array, kvlist; bytes as base64), so attributes land losslessly.
"""

from __future__ import annotations

import pyarrow as pa

from fleetsignals.contract import RUN_DIMENSIONS

TS = pa.timestamp("us")
# Dimensions whose lake column predates the contract block below (the lake's layout is kept).
_PLACED = ("agent_name", "model")

SPAN_SCHEMA = pa.schema(
    [
        ("trace_id", pa.string()),  # 32 lower-case hex
        ("span_id", pa.string()),  # 16 lower-case hex
        ("parent_span_id", pa.string()),  # null for a root span
        ("trace_state", pa.string()),
        ("name", pa.string()),
        ("kind", pa.string()),  # unspecified|internal|server|client|producer|consumer
        ("start_at", TS),
        ("end_at", TS),
        ("start_ns", pa.int64()),  # unix nanoseconds, exact
        ("end_ns", pa.int64()),
        ("duration_ms", pa.float64()),
        ("status_code", pa.string()),  # unset|ok|error
        ("status_message", pa.string()),
        ("service_name", pa.string()),  # resource service.name
        ("scope_name", pa.string()),
        ("scope_version", pa.string()),
        # Normalized from the OTel GenAI / OpenInference vocabularies.
        ("operation", pa.string()),  # llm|tool|agent|other
        ("agent_name", pa.string()),
        ("tool_name", pa.string()),
        ("tool_call_id", pa.string()),
        ("tool_args_hash", pa.string()),  # hash of the tool call's arguments, if any
        ("model", pa.string()),  # response model, else request model
        ("provider", pa.string()),
        ("input_tokens", pa.int64()),  # as reported: GenAI input includes cached tokens
        ("output_tokens", pa.int64()),
        ("cache_read_tokens", pa.int64()),
        ("cache_write_tokens", pa.int64()),
        ("reasoning_tokens", pa.int64()),
        ("cost_usd", pa.float64()),  # reported on the span; null if not reported
        # Contract dimensions, after the config's `dimensions:` mapping (span, then resource);
        # agent_name and model sit above with the normalized fields, where lakes have them.
        *[(name, pa.string()) for name in RUN_DIMENSIONS if name not in _PLACED],
        # Lossless copies.
        ("attributes", pa.string()),  # JSON object: key -> typed value
        ("resource_attributes", pa.string()),  # JSON object
        ("scope_attributes", pa.string()),  # JSON object
        ("events", pa.string()),  # JSON array: {name, time_ns, attributes}
        ("links", pa.string()),  # JSON array: {trace_id, span_id, trace_state, attributes}
        # Lineage.
        ("source_sha256", pa.string()),  # content hash of the file the span came from
        ("landed_at", TS),  # when the span landed (drives incremental builds)
    ]
)

# Hive partition keys, derived from end_at (a span is exported when it ends).
PARTITION_KEYS = ("dt", "hr")  # dt=YYYY-MM-DD/hr=HH
