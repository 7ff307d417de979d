-- OpenTelemetry GenAI evaluation results landed as spans, one row each (docs/labels.md):
-- - a `gen_ai.evaluation.result` event on any span: it judges that span's run;
-- - a span of its own whose attributes carry `gen_ai.evaluation.name` (evaluations sent as
--   their own telemetry): it judges the run its first link points to, else its own trace.
-- Attributes: gen_ai.evaluation.name, .score.value, .score.label, .explanation. A result
-- counts from the moment its span landed, like a label. Only spans of the runs this build
-- recomputes are read; rows of other runs stay (unique_key label_id).
{{ config(unique_key='label_id') }}
{%- set since = touched_runs_since(ref('int_build_watermarks_recorded'), ref('int_runs_indexed')) %}

with

touched as (

    select run_id
    from {{ ref('int_runs_indexed') }}
    where build_id = '{{ this_build_id() }}' and not is_archived

),

spans as (

    select
        spans.trace_id,
        spans.span_id,
        spans.attributes,
        spans.events,
        spans.links,
        spans.end_at,
        spans.landed_at
    from {{ ref('stg_otel__spans') }} as spans
    inner join touched on spans.trace_id = touched.run_id
    where
        {{ lake_partitions_since(since) }}
        and (
            spans.events like '%gen_ai.evaluation.result%'
            or spans.attributes like '%gen_ai.evaluation.name%'
        )

),

events as (

    select
        trace_id,
        span_id,
        landed_at,
        end_at,
        unnest(cast(json_extract(events, '$[*]') as json[])) as event,
        generate_subscripts(cast(json_extract(events, '$[*]') as json[]), 1) as event_index
    from spans
    where events like '%gen_ai.evaluation.result%'

),

from_events as (

    select
        'otel:' || trace_id || ':' || span_id || ':' || event_index as label_id,
        trace_id as run_id,
        span_id,
        json_extract(event, '$.attributes') as attrs,
        coalesce(
            make_timestamp(try_cast(json_extract(event, '$.time_ns') as bigint) // 1000), end_at
        ) as given_at,
        landed_at
    from events
    where json_extract_string(event, '$.name') = 'gen_ai.evaluation.result'

),

from_spans as (

    select
        'otel:' || trace_id || ':' || span_id as label_id,
        coalesce(json_extract_string(links, '$[0].trace_id'), trace_id) as run_id,
        json_extract_string(links, '$[0].span_id') as span_id,
        attributes as attrs,
        end_at as given_at,
        landed_at
    from spans
    where json_extract_string(attributes, '$."gen_ai.evaluation.name"') is not null

),

results as (

    select * from from_events
    union all
    select * from from_spans

),

final as (

    select
        label_id,
        run_id,
        span_id,
        json_extract_string(attrs, '$."gen_ai.evaluation.name"') as name,
        try_cast(json_extract_string(attrs, '$."gen_ai.evaluation.score.value"') as double) as score,
        lower(trim(json_extract_string(attrs, '$."gen_ai.evaluation.score.label"'))) as label,
        'evaluation' as source,
        given_at,
        cast(null as string) as annotator,
        json_extract_string(attrs, '$."gen_ai.evaluation.explanation"') as comment,
        landed_at,
        'otel_evaluation' as origin,
        cast(null as string) as source_sha256
    from results
    where json_extract_string(attrs, '$."gen_ai.evaluation.name"') is not null

)

select * from final
