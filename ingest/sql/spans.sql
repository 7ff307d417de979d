-- OTLP/JSON records -> span rows: the query of ingest/otlp_sql.py, over a table
-- records(line_no, line) with parameters $trace_type (the struct type of a TracesData),
-- $span_paths and $resource_paths (the JSON paths of the attribute keys the vocabulary
-- looks up). The vocabulary's lookups are macros that otlp_sql.py generates from it:
-- otlp_operation(sv) is a span's operation class, otlp_fields(sv, rv, operation) the
-- normalized fields and dimensions (a struct), otlp_tool_args(xv, sv, operation)
-- the tool arguments that are hashed; sv and rv are the looked-up span and resource
-- values, xv = otlp_sent_values(kvs) the tool-argument keys looked up in the attributes
-- as sent, before redaction (null without redaction: sv holds those keys then).
with

documents as (
    select
        line_no,
        json_transform(line, $trace_type) as doc
    from records
),

resources as (
    select
        line_no,
        unnest(
            coalesce(struct_extract(doc, 'resourceSpans'), struct_extract(doc, 'resource_spans'))
        ) as rs
    from documents
),

resources_json as (
    select
        line_no,
        rs.resource.attributes as raw_resource,
        otlp_attributes_json(rs.resource.attributes) as resource_marked,
        coalesce(
            rs.scopespans, rs.scope_spans, rs.instrumentationlibraryspans,
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
        coalesce(ss.scope, ss.instrumentationlibrary, ss.instrumentation_library) as scope,
        ss.spans
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
        coalesce(sp.traceid, sp.trace_id) as raw_trace_id,
        coalesce(sp.spanid, sp.span_id) as raw_span_id,
        coalesce(sp.parentspanid, sp.parent_span_id) as raw_parent_id,
        coalesce(sp.tracestate, sp.trace_state) as trace_state,
        sp.name,
        sp.kind as raw_kind,
        coalesce(sp.starttimeunixnano, sp.start_time_unix_nano) as raw_start,
        coalesce(sp.endtimeunixnano, sp.end_time_unix_nano) as raw_end,
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
        case
            when raw_events is null or raw_events in ('[]', 'null') then '[]'
            else otlp_events_json(raw_events)
        end as events_marked,
        case
            when raw_links is null or raw_links in ('[]', 'null') then '[]'
            else otlp_links_json(raw_links)
        end as links_marked,
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
        context_cut
        or otlp_is_cut(attrs_marked)
        or otlp_is_cut(events_marked)
        or otlp_is_cut(links_marked) as is_cut
    from spans
),

looked as (
    select
        *,
        otlp_sent_values(kvs) as xv,
        json_extract_string(attrs_json, $span_paths) as sv
    from uncut
),

classified as (
    select
        *,
        otlp_operation(sv) as operation
    from looked
),

judged as (
    select
        *,
        otlp_fields(sv, rv, operation) as normalized,
        otlp_tool_args(xv, sv, operation) as args_raw,
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
    normalized.*,
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
    case
        when problem is not null
            then to_json({
                    'traceId': raw_trace_id,
                    'spanId': raw_span_id,
                    'parentSpanId': raw_parent_id,
                    'name': name,
                    'kind': raw_kind,
                    'startTimeUnixNano': raw_start,
                    'endTimeUnixNano': raw_end,
                    'attributes': json(attrs_json),
                    'status': { 'code': raw_status, 'message': status_message }
                })
        -- Cut by the attribute limits: the whole span as sent, as an OTLP message.
        when is_cut then to_json({
                'resourceSpans': [{
                    'resource': { 'attributes': json(raw_resource) },
                    'scopeSpans': [{
                        'scope': {
                            'name': scope_name,
                            'version': scope_version,
                            'attributes': json(raw_scope)
                        },
                        'spans': [{
                            'traceId': raw_trace_id,
                            'spanId': raw_span_id,
                            'parentSpanId': raw_parent_id,
                            'traceState': trace_state,
                            'name': name,
                            'kind': raw_kind,
                            'startTimeUnixNano': raw_start,
                            'endTimeUnixNano': raw_end,
                            'attributes': json(kvs),
                            'events': json(raw_events),
                            'links': json(raw_links),
                            'status': { 'code': raw_status, 'message': status_message }
                        }]
                    }]
                }]
            })
    end as rejected
from judged
