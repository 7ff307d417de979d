-- Every quality label, history included: file labels (`fleetsignals label`) and OTel GenAI
-- evaluation results, one row each, with the run's dimensions when the run has landed.
-- A label counts from landed_at. A later label for the same run, name and source (later
-- given_at, then later landing) supersedes it from the moment that one lands
-- (superseded_at), so "current at T" is `landed_at <= T and (superseded_at is null or
-- superseded_at > T)`: what a live evaluation at T saw.
with

file_labels as (

    select * from {{ ref('stg_labels__labels') }}

),

evaluations as (

    select * from {{ ref('int_evaluations_extracted') }}

),

runs as (

    select * from {{ ref('int_runs_assembled') }}

),

labels as (

    select * from file_labels
    union all
    select * from evaluations

),

ordered as (

    select
        *,
        row_number() over (
            partition by run_id, name, source
            order by given_at, landed_at, label_id
        ) as label_seq
    from labels

),

superseding as (

    -- The first landing of any label ordered after this one (same run, name, source).
    select
        earlier.label_id,
        min(later.landed_at) as superseded_at
    from ordered as earlier
    inner join ordered as later
        on
            earlier.run_id = later.run_id
            and earlier.name = later.name
            and earlier.source = later.source
            and earlier.label_seq < later.label_seq
    group by earlier.label_id

),

final as (

    select
        ordered.label_id,
        ordered.run_id,
        ordered.span_id,
        ordered.name,
        ordered.score,
        ordered.label,
        ordered.source,
        ordered.origin,
        {{ label_is_bad('ordered.label', 'ordered.name', 'ordered.score') }} as is_bad,
        ordered.given_at,
        ordered.landed_at,
        superseding.superseded_at,
        superseding.superseded_at is not null as is_superseded,
        ordered.annotator,
        ordered.comment,
        runs.run_id is not null as has_run,
        {%- for dimension in run_dimensions() %}
            runs.{{ dimension }},
        {%- endfor %}
        runs.model,
        coalesce(runs.root_ended_at, runs.last_span_at) as run_ended_at,
        {{ milliseconds_between('coalesce(runs.root_ended_at, runs.last_span_at)', 'ordered.landed_at') }}
            as label_delay_ms,
        ordered.source_sha256
    from ordered
    left join superseding on ordered.label_id = superseding.label_id
    left join runs on ordered.run_id = runs.run_id

)

select * from final
