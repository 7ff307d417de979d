"""OTLP/JSON records -> span rows, in one DuckDB query per chunk.

DuckDB parses the JSON (``json_transform`` into typed structs), flattens it and
computes the normalized columns on every core. Tolerance lives in the struct
type and the macros below: both key spellings (lowerCamelCase and snake_case)
are declared and coalesced, int64s are read as text and cast, enums are matched
by number or name, ids are accepted as hex or base64. Unknown fields are not
declared, so they are ignored. Attribute lists (span, resource, scope, events,
links) are read as raw JSON text and converted to plain-value objects by the
Python functions of ``ingest/values.py``: per attribute that measured cheaper
than DuckDB lambdas, and it keeps every AnyValue kind exactly.

The query returns one row per span with the columns of ``SPAN_SCHEMA`` (less the
lineage ones) plus ``dt``/``hr`` (partition), ``line_no``, and ``problem`` (null
for a good span, else why it is rejected, with the span as JSON in ``rejected``).
A good span that the attribute limits cut (``ingest/values.py`` marks the converted
list) has ``rejected`` too: the whole span as sent, as an OTLP message
(``ingest/limits.py`` hands it to the quarantine). Records that yield no span are
judged by the caller (``ingest/parse.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import duckdb

from fleetsignals.contract import RESOURCE_PREFIX
from fleetsignals.ingest.values import (
    NO_LIMITS,
    AttributeLimits,
    Redactor,
    attributes_json,
    events_json,
    links_json,
)
from fleetsignals.ingest.vocabulary import (
    AGENT_OPERATIONS,
    DIMENSIONS,
    LLM_OPERATIONS,
    NORMALIZED_KEYS,
    TOKEN_COLUMNS,
    TOOL_ARGS_KEYS,
    TOOL_OPERATIONS,
)
from fleetsignals.sqltext import quote_literal


def _both(camel: str, type_: str) -> str:
    """A struct field declared in both spellings, e.g. traceId and trace_id."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()
    return f'"{camel}":{type_},"{snake}":{type_}'


_V = '"VARCHAR"'


def _traces_type() -> str:
    span = (
        "{"
        + ",".join(
            [
                _both("traceId", _V),
                _both("spanId", _V),
                _both("parentSpanId", _V),
                _both("traceState", _V),
                '"name":"VARCHAR"',
                '"kind":"VARCHAR"',
                _both("startTimeUnixNano", _V),
                _both("endTimeUnixNano", _V),
                '"attributes":"VARCHAR"',  # raw JSON text, converted in Python
                '"events":"VARCHAR"',
                '"links":"VARCHAR"',
                '"status":{"code":"VARCHAR","message":"VARCHAR"}',
            ]
        )
        + "}"
    )
    scope = '{"name":"VARCHAR","version":"VARCHAR","attributes":"VARCHAR"}'
    scope_spans = (
        "{"
        + ",".join(
            ['"scope":' + scope, _both("instrumentationLibrary", scope), '"spans":[' + span + "]"]
        )
        + "}"
    )
    resource_spans = (
        "{"
        + ",".join(
            [
                '"resource":{"attributes":"VARCHAR"}',
                _both("scopeSpans", "[" + scope_spans + "]"),
                _both("instrumentationLibrarySpans", "[" + scope_spans + "]"),
            ]
        )
        + "}"
    )
    return "{" + _both("resourceSpans", "[" + resource_spans + "]") + "}"


TRACES_DATA = _traces_type()

MACROS = r"""
create or replace macro otlp_id(x, nbytes) as case
    when x is null or x = '' then null
    when length(x) = 2 * nbytes and regexp_full_match(x, '[0-9a-fA-F]+') then lower(x)
    when octet_length(
        try(from_base64(translate(x, '-_', '+/') || repeat('=', (4 - length(x) % 4) % 4)))
    ) = nbytes
        then lower(hex(from_base64(translate(x, '-_', '+/') || repeat('=', (4 - length(x) % 4) % 4))))
    else '!' || x
end;

create or replace macro otlp_ns(x) as coalesce(
    try_cast(x as bigint),
    try_cast(try_cast(x as double) as bigint)
);

create or replace macro otlp_kind(k) as case
    upper(replace(replace(coalesce(k, ''), 'SPAN_KIND_', ''), 'span_kind_', ''))
    when '1' then 'internal' when 'INTERNAL' then 'internal'
    when '2' then 'server' when 'SERVER' then 'server'
    when '3' then 'client' when 'CLIENT' then 'client'
    when '4' then 'producer' when 'PRODUCER' then 'producer'
    when '5' then 'consumer' when 'CONSUMER' then 'consumer'
    else 'unspecified'
end;

create or replace macro otlp_status(c) as case
    upper(replace(replace(coalesce(c, ''), 'STATUS_CODE_', ''), 'status_code_', ''))
    when '1' then 'ok' when 'OK' then 'ok'
    when '2' then 'error' when 'ERROR' then 'error'
    else 'unset'
end;

create or replace macro otlp_int(x) as try_cast(try_cast(x as double) as bigint);

-- A converted attribute list, events or links (JSON text) without the mark of the
-- attribute limits (a leading \x01, ingest/values.py), and whether it had the mark.
create or replace macro otlp_uncut(x) as case when starts_with(x, chr(1)) then substr(x, 2) else x end;

create or replace macro otlp_is_cut(x) as coalesce(starts_with(x, chr(1)), false);
"""


def _path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Lookups:
    """Collects attribute keys into one json_extract_string list per side (span, resource)."""

    def __init__(self) -> None:
        self.span: list[str] = []
        self.resource: list[str] = []

    def _at(self, side: list[str], key: str, column: str) -> str:
        if key not in side:
            side.append(key)
        return f"{column}[{side.index(key) + 1}]"

    def span_key(self, key: str) -> str:
        return self._at(self.span, key, "sv")

    def resource_key(self, key: str) -> str:
        return self._at(self.resource, key, "rv")

    def first_of(self, keys: Sequence[str]) -> str:
        """Span attribute first (keys in order), then the resource (keys in order)."""
        span = [self.span_key(k) for k in keys if not k.startswith(RESOURCE_PREFIX)]
        resource = [self.resource_key(k.removeprefix(RESOURCE_PREFIX)) for k in keys]
        return "coalesce(" + ", ".join(span + resource) + ")"

    def span_first_of(self, keys: Sequence[str]) -> str:
        return "coalesce(" + ", ".join(self.span_key(k) for k in keys) + ")"


def build_query(dimension_keys: dict[str, list[str]], redact: Sequence[str]) -> tuple[str, dict]:
    """The span query over a table ``records(line_no, line)`` and its bound parameters."""
    look = _Lookups()
    op_name = look.span_first_of(NORMALIZED_KEYS["operation_name"])
    oi_kind = f"upper({look.span_first_of(NORMALIZED_KEYS['openinference_kind'])})"
    llm = ", ".join(quote_literal(o) for o in LLM_OPERATIONS)
    tool = ", ".join(quote_literal(o) for o in TOOL_OPERATIONS)
    agent = ", ".join(quote_literal(o) for o in AGENT_OPERATIONS)
    operation = f"""case
            when {op_name} in ({llm}) then 'llm'
            when {op_name} in ({tool}) then 'tool'
            when {op_name} in ({agent}) then 'agent'
            when {oi_kind} in ('LLM', 'EMBEDDING') then 'llm'
            when {oi_kind} = 'TOOL' then 'tool'
            when {oi_kind} = 'AGENT' then 'agent'
            else 'other'
        end"""
    columns = {
        "service_name": look.resource_key("service.name"),
        "tool_name": look.span_first_of(NORMALIZED_KEYS["tool_name"]),
        "tool_call_id": look.span_first_of(NORMALIZED_KEYS["tool_call_id"]),
        "model": look.first_of(dimension_keys["model"]),
        "provider": look.span_first_of(NORMALIZED_KEYS["provider"]),
    }
    for name in TOKEN_COLUMNS:
        columns[name] = f"otlp_int({look.span_first_of(NORMALIZED_KEYS[name])})"
    columns["cost_usd"] = f"try_cast({look.span_first_of(NORMALIZED_KEYS['cost_usd'])} as double)"
    for name in DIMENSIONS:
        columns[name] = look.first_of(dimension_keys[name])

    params: dict[str, object] = {
        "trace_type": TRACES_DATA,
        "span_paths": [_path(k) for k in look.span],
        "resource_paths": [_path(k) for k in look.resource],
    }
    # The tool-argument hash is taken before redaction: it identifies repeated calls
    # (loops) without storing the arguments, so it stays useful when they are redacted.
    raw_json = "otlp_attributes_raw_json(kvs)" if redact else "attrs_json"
    args = [f"json_extract_string(raw_json, {quote_literal(_path(k))})" for k in TOOL_ARGS_KEYS]
    args_raw = f"coalesce({args[0]}, case when operation = 'tool' then {args[1]} end, {args[2]})"
    normalized = ",\n    ".join(f"{expr} as {name}" for name, expr in columns.items())
    sql = f"""
with resources as (
    select
        line_no,
        unnest(coalesce(d.resourceSpans, d.resource_spans)) as rs
    from (select line_no, json_transform(line, $trace_type) as d from records)
),
resources_json as (
    select
        line_no,
        rs.resource.attributes as raw_resource,
        otlp_attributes_json(rs.resource.attributes) as resource_marked,
        coalesce(
            rs.scopeSpans, rs.scope_spans, rs.instrumentationLibrarySpans,
            rs.instrumentation_library_spans
        ) as sss
    from resources
),
resources_looked as (
    select
        line_no,
        raw_resource,
        otlp_uncut(resource_marked) as resource_json,
        otlp_is_cut(resource_marked) as resource_cut,
        json_extract_string(otlp_uncut(resource_marked), $resource_paths) as rv,
        unnest(sss) as ss
    from resources_json
),
scopes as (
    select
        line_no,
        raw_resource,
        resource_json,
        resource_cut,
        rv,
        coalesce(ss.scope, ss.instrumentationLibrary, ss.instrumentation_library) as scope,
        ss.spans as spans
    from resources_looked
),
scopes_json as (
    select
        *,
        otlp_attributes_json(scope.attributes) as scope_marked
    from scopes
),
unnested as (
    select
        line_no,
        raw_resource,
        resource_json,
        rv,
        scope.name as scope_name,
        scope.version as scope_version,
        scope.attributes as raw_scope,
        otlp_uncut(scope_marked) as scope_json,
        resource_cut or otlp_is_cut(scope_marked) as context_cut,
        unnest(spans) as sp
    from scopes_json
),
flat as (
    -- Every span field read once here: later steps never touch the nested struct.
    select
        line_no,
        raw_resource,
        resource_json,
        rv,
        scope_name,
        scope_version,
        raw_scope,
        scope_json,
        context_cut,
        coalesce(sp.traceId, sp.trace_id) as raw_trace_id,
        coalesce(sp.spanId, sp.span_id) as raw_span_id,
        coalesce(sp.parentSpanId, sp.parent_span_id) as raw_parent_id,
        coalesce(sp.traceState, sp.trace_state) as trace_state,
        sp.name as name,
        sp.kind as raw_kind,
        coalesce(sp.startTimeUnixNano, sp.start_time_unix_nano) as raw_start,
        coalesce(sp.endTimeUnixNano, sp.end_time_unix_nano) as raw_end,
        sp.attributes as kvs,
        sp.events as raw_events,
        sp.links as raw_links,
        sp.status.code as raw_status,
        sp.status.message as status_message
    from unnested
),
spans as (
    select
        *,
        otlp_attributes_json(kvs) as attrs_marked,
        case when raw_events is null or raw_events in ('[]', 'null') then '[]'
            else otlp_events_json(raw_events) end as events_marked,
        case when raw_links is null or raw_links in ('[]', 'null') then '[]'
            else otlp_links_json(raw_links) end as links_marked,
        otlp_id(raw_trace_id, 16) as trace_id,
        otlp_id(raw_span_id, 8) as span_id,
        otlp_id(raw_parent_id, 8) as parent_span_id,
        otlp_ns(raw_start) as start_ns,
        otlp_ns(raw_end) as end_ns
    from flat
),
uncut as (
    select
        *,
        otlp_uncut(attrs_marked) as attrs_json,
        otlp_uncut(events_marked) as events_json,
        otlp_uncut(links_marked) as links_json,
        context_cut or otlp_is_cut(attrs_marked) or otlp_is_cut(events_marked)
            or otlp_is_cut(links_marked) as is_cut
    from spans
),
looked as (
    select
        *,
        {raw_json} as raw_json,
        json_extract_string(attrs_json, $span_paths) as sv
    from uncut
),
classified as (
    select *, {operation} as operation from looked
),
judged as (
    select
        *,
        {args_raw} as args_raw,
        case
            when trace_id is null then 'missing trace id'
            when starts_with(trace_id, '!') then 'invalid trace id ' || to_json(substr(trace_id, 2))
            when trace_id = repeat('0', 32) then 'invalid trace id (all zero)'
            when span_id is null then 'missing span id'
            when starts_with(span_id, '!') then 'invalid span id ' || to_json(substr(span_id, 2))
            when span_id = repeat('0', 16) then 'invalid span id (all zero)'
            when starts_with(parent_span_id, '!')
                then 'invalid parent span id ' || to_json(substr(parent_span_id, 2))
            -- A number the lake's int64 cannot hold (OTLP's fixed64 is unsigned) is not garbage.
            when start_ns is null and isfinite(try_cast(raw_start as double))
                then 'out of range start time ' || to_json(raw_start)
            when start_ns is null or start_ns <= 0
                then 'unparseable start time ' || coalesce(to_json(raw_start), 'null')
            when end_ns is null and isfinite(try_cast(raw_end as double))
                then 'out of range end time ' || to_json(raw_end)
            when end_ns is null or end_ns <= 0
                then 'unparseable end time ' || coalesce(to_json(raw_end), 'null')
            when end_ns < start_ns then 'end before start'
        end as problem
    from classified
)
select
    trace_id,
    span_id,
    nullif(parent_span_id, repeat('0', 16)) as parent_span_id,
    nullif(trace_state, '') as trace_state,
    name,
    otlp_kind(raw_kind) as kind,
    make_timestamp(start_ns // 1000) as start_at,
    make_timestamp(end_ns // 1000) as end_at,
    start_ns,
    end_ns,
    (end_ns - start_ns) / 1e6 as duration_ms,
    otlp_status(raw_status) as status_code,
    nullif(status_message, '') as status_message,
    nullif(scope_name, '') as scope_name,
    nullif(scope_version, '') as scope_version,
    operation,
    {normalized},
    left(sha256(args_raw), 16) as tool_args_hash,
    attrs_json as attributes,
    resource_json as resource_attributes,
    scope_json as scope_attributes,
    events_json as events,
    links_json as links,
    strftime(make_timestamp(end_ns // 1000), '%Y-%m-%d') as dt,
    lpad(hour(make_timestamp(end_ns // 1000))::varchar, 2, '0') as hr,
    line_no,
    problem,
    case when problem is not null then to_json({{
        'traceId': raw_trace_id, 'spanId': raw_span_id, 'parentSpanId': raw_parent_id,
        'name': name, 'kind': raw_kind, 'startTimeUnixNano': raw_start,
        'endTimeUnixNano': raw_end, 'attributes': json(attrs_json),
        'status': {{'code': raw_status, 'message': status_message}},
    }})
    -- Cut by the attribute limits: the whole span as sent, as an OTLP message.
    when is_cut then to_json({{'resourceSpans': [{{
        'resource': {{'attributes': json(raw_resource)}},
        'scopeSpans': [{{
            'scope': {{'name': scope_name, 'version': scope_version, 'attributes': json(raw_scope)}},
            'spans': [{{
                'traceId': raw_trace_id, 'spanId': raw_span_id, 'parentSpanId': raw_parent_id,
                'traceState': trace_state, 'name': name, 'kind': raw_kind,
                'startTimeUnixNano': raw_start, 'endTimeUnixNano': raw_end,
                'attributes': json(kvs), 'events': json(raw_events), 'links': json(raw_links),
                'status': {{'code': raw_status, 'message': status_message}},
            }}],
        }}],
    }}]}}) end as rejected
from judged
"""
    return sql, params


def register(
    con: duckdb.DuckDBPyConnection, redact: Redactor | None, limits: AttributeLimits = NO_LIMITS
) -> None:
    """Create the macros and the Python functions for attribute lists on a connection."""
    functions = {
        "otlp_attributes_json": lambda raw: attributes_json(raw, redact, limits),
        "otlp_attributes_raw_json": lambda raw: attributes_json(raw, None),
        "otlp_events_json": lambda raw: events_json(raw, redact, limits),
        "otlp_links_json": lambda raw: links_json(raw, redact, limits),
    }
    for name, function in functions.items():
        con.create_function(
            name, function, ["VARCHAR"], "VARCHAR", side_effects=False, null_handling="special"
        )
    con.execute(MACROS)
