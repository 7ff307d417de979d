-- One row per span: deduplicated, with the contract dimensions re-derived from the
-- attribute JSON by the configured mapping (var `dimensions`).
with

source as (

    select * from {{ source('lake', 'spans') }}

),

deduplicated as (

    -- The same span can land from two files (exporter retries, overlapping dumps).
    -- Copies share their end time, so partitioning by (dt, hr) too keeps partition
    -- filters pushed down through this window.
    select *
    from source
    qualify row_number() over (
            partition by dt, hr, trace_id, span_id
            order by landed_at, source_sha256
        ) = 1

),

parsed as (

    -- Each attribute JSON parsed once into the values the dimensions read (a
    -- json_extract_string per key would parse it again for every key).
    select
        *,
        {{ parsed_attribute_values('attributes') }} as attributes_values,
        {{ parsed_attribute_values('resource_attributes') }} as resource_attributes_values
    from deduplicated

),

renamed as (

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
    from parsed

)

select * from renamed
