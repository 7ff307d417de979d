-- OpenTelemetry GenAI evaluation results landed as spans, one row each (docs/labels.md):
-- - a `gen_ai.evaluation.result` event on any span: it judges that span's run;
-- - a span of its own whose attributes carry `gen_ai.evaluation.name` (evaluations sent as
--   their own telemetry): it judges the run its first link points to, else its own trace.
-- Attributes: gen_ai.evaluation.name, .score.value, .score.label, .explanation. A result
-- counts from the moment its span landed, like a label. Only spans of the runs this build
-- recomputes are read; rows of other runs stay (unique_key label_id).
{{ config(unique_key='label_id') }}

with

spans as (

    -- The touched spans that mention an evaluation, with their attributes, events and
    -- links (int_spans_touched keeps them for these spans only).
    select
        run_id as trace_id,
        span_id,
        evaluation_attributes as attributes,
        evaluation_events as events,
        evaluation_links as links,
        end_at,
        landed_at
    from {{ ref('int_spans_touched') }}
    where mentions_evaluation

),

events as (

    select
        trace_id,
        span_id,
        landed_at,
        end_at,
        {{ json_elements_indexed('events', 'event', 'event_offset') }}
    from spans
    where events like '%gen_ai.evaluation.result%'

),

from_events as (

    select
        'otel:' || trace_id || ':' || span_id || ':' || cast(event_offset + 1 as string) as label_id,
        trace_id as run_id,
        span_id,
        {{ json_member_text('event', 'attributes') }} as attrs,
        coalesce(
            {{ timestamp_from_nanos("try_cast(" ~ json_member_text('event', 'time_ns') ~ " as bigint)") }},
            end_at
        ) as given_at,
        landed_at
    from events
    where {{ json_member_text('event', 'name') }} = 'gen_ai.evaluation.result'

),

from_spans as (

    select
        'otel:' || trace_id || ':' || span_id as label_id,
        coalesce({{ json_path_text('links', '$[0].trace_id') }}, trace_id) as run_id,
        {{ json_path_text('links', '$[0].span_id') }} as span_id,
        attributes as attrs,
        end_at as given_at,
        landed_at
    from spans
    where {{ json_member_text('attributes', 'gen_ai.evaluation.name') }} is not null

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
        {{ json_member_text('attrs', 'gen_ai.evaluation.name') }} as name,
        try_cast({{ json_member_text('attrs', 'gen_ai.evaluation.score.value') }} as double) as score,
        lower(trim({{ json_member_text('attrs', 'gen_ai.evaluation.score.label') }})) as label,
        'evaluation' as source,
        given_at,
        cast(null as string) as annotator,
        {{ json_member_text('attrs', 'gen_ai.evaluation.explanation') }} as comment,
        landed_at,
        'otel_evaluation' as origin,
        cast(null as string) as source_sha256
    from results
    where {{ json_member_text('attrs', 'gen_ai.evaluation.name') }} is not null

)

select * from final
