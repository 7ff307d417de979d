{#-
    The select of stg_otel__spans (one row per span: deduplicated, with the contract
    dimensions re-derived from the attribute JSON by the configured mapping, var
    `dimensions`), as one query without a WITH, so a model can put it in its own CTE.

    `traces`: none, or a query returning trace ids; only the spans of those traces are
    deduplicated and parsed. Exact, because copies of a span share their trace (the
    window below partitions by it): a model that needs a few runs' spans pays the
    window and the parsing for those runs only, which DuckDB does not do on its own
    for a filter or a join above the view's window. `since`: the earliest partition
    read (lake_partitions_since), none for all. Deduplication: deduplicated_spans.
-#}
{% macro otel_spans(traces=none, since=none) -%}
    select
        trace_id,
        span_id,
        parent_span_id,
        parent_span_id is null as is_root,
        trace_state,
        name,
        kind,
        start_at,
        end_at,
        start_ns,
        end_ns,
        duration_ms,
        status_code,
        status_message,
        service_name,
        scope_name,
        scope_version,
        operation,
        tool_name,
        tool_call_id,
        tool_args_hash,
        coalesce({{ dimension_value('model', parsed=true) }}, model) as model,
        provider,
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_write_tokens,
        reasoning_tokens,
        cost_usd as reported_cost_usd,
        {%- for dimension in run_dimensions() %}
            {{ dimension_value(dimension, parsed=true) }} as {{ dimension }},
            {{ dimension_value(dimension, resource=true, parsed=true) }} as resource_{{ dimension }},
        {%- endfor %}
        attributes,
        resource_attributes,
        scope_attributes,
        events,
        links,
        source_sha256,
        landed_at,
        dt,
        hr
    from (
        -- Each attribute JSON parsed once into the values the dimensions read (a
        -- json_extract_string per key would parse it again for every key).
        select
            *,
            {{ parsed_attribute_values('attributes') }} as attributes_values,
            {{ parsed_attribute_values('resource_attributes') }} as resource_attributes_values
        from (
            {{ deduplicated_spans(traces, since) }}
        ) as deduplicated
    ) as parsed
{%- endmacro %}
