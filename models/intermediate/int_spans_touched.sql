-- The spans of the runs this build recomputes, reduced to the columns the facts need.
-- Partition-pruned to the hours at or after the earliest start of those runs.
-- depends_on: {{ ref('stg_otel__spans') }}
{%- set since = touched_runs_since(ref('int_build_watermarks_recorded'), ref('int_runs_indexed')) %}
{%- set touched = "select run_id from " ~ ref('int_runs_indexed')
    ~ " where build_id = '" ~ this_build_id() ~ "' and not is_archived" %}

with

spans as (

    -- stg_otel__spans of the touched runs only: the dedup window and the attribute
    -- parsing skip the other runs' spans (macros/otel_spans.sql).
    {{ otel_spans(traces=touched, since=since) }}

),

flagged as (

    -- A span mentioning an OTel evaluation result keeps its attributes, events and links
    -- (null on the others): int_evaluations_extracted reads them here, where the touched
    -- spans are read anyway, instead of scanning the wide columns of the touched hours
    -- of the lake again (history included).
    select
        *,
        coalesce(
            events like '%gen_ai.evaluation.result%'
            or attributes like '%gen_ai.evaluation.name%',
            false
        ) as mentions_evaluation
    from spans

),

final as (

    select
        spans.trace_id as run_id,
        spans.span_id,
        spans.parent_span_id,
        spans.is_root,
        spans.name as span_name,
        spans.kind,
        spans.start_at,
        spans.end_at,
        spans.duration_ms,
        spans.status_code,
        spans.status_message,
        spans.operation,
        spans.tool_name,
        spans.tool_call_id,
        spans.tool_args_hash,
        spans.model,
        spans.provider,
        spans.input_tokens,
        spans.output_tokens,
        spans.cache_read_tokens,
        spans.cache_write_tokens,
        spans.reasoning_tokens,
        spans.reported_cost_usd,
        {%- for dimension in run_dimensions() %}
            spans.{{ dimension }},
            spans.resource_{{ dimension }},
        {%- endfor %}
        spans.landed_at,
        spans.mentions_evaluation,
        case when spans.mentions_evaluation then spans.attributes end as evaluation_attributes,
        case when spans.mentions_evaluation then spans.events end as evaluation_events,
        case when spans.mentions_evaluation then spans.links end as evaluation_links,
        -- The landing of the row (with landed_at): int_build_landings_recorded keeps a
        -- landing only if its rows of every run it recorded are here (post-hook, macro
        -- confirm_landings_recorded).
        spans.dt,
        spans.hr,
        spans.source_sha256
    from flagged as spans

)

select * from final
