-- One row per run with its measured facts (everything of fct_runs that does not depend
-- on the watermark or on retention). Recomputed for the runs this build touched, from
-- their spans, or from the archive for runs whose spans retention pruned.
{{ config(unique_key='run_id', partition_by=partitioned_by('part_at')) }}

{%- set dimensions = run_dimensions() %}

with

touched as (

    select
        run_id,
        part_at,
        is_archived
    from {{ ref('int_runs_indexed') }}
    where build_id = '{{ this_build_id() }}'

),

spans as (

    select * from {{ ref('int_spans_touched') }}

),

llm_calls as (

    select * from {{ ref('int_llm_calls_priced') }}

),

tool_calls as (

    select * from {{ ref('int_tool_calls_sequenced') }}

),

lake_runs as (

    -- Dimensions, times and root (macros/run_facts.sql: the as-of view of fct_runs
    -- re-derives a run in flight at $eval_at by the same rule).
    select
        run_id,
        {{ run_span_facts() }}
    from spans
    group by run_id

),

archived_runs as (

    select
        runs.run_id,
        {%- for dimension in dimensions %}
            runs.{{ dimension }},
        {%- endfor %}
        runs.started_at,
        runs.last_span_at,
        runs.root_ended_at,
        runs.has_root,
        runs.root_status_code,
        runs.root_status_message,
        runs.span_count,
        runs.last_landed_at
    from {{ ref('stg_facts__runs') }} as runs
    inner join touched on runs.run_id = touched.run_id and touched.is_archived

),

base as (

    select * from lake_runs
    union all
    select * from archived_runs

),

run_models as (

    {{ run_main_model('llm_calls') }}

),

llm_totals as (

    {{ run_llm_totals('llm_calls') }}

),

tool_totals as (

    {{ run_tool_totals('tool_calls') }}

),

final as (

    select
        base.run_id,
        touched.part_at,
        {%- for dimension in dimensions %}
            base.{{ dimension }},
        {%- endfor %}
        run_models.model,
        base.started_at,
        base.last_span_at,
        base.root_ended_at,
        base.has_root,
        base.root_status_code,
        base.root_status_message,
        base.span_count,
        {{ run_totals('llm_totals', 'tool_totals') }},
        base.last_landed_at,
        touched.is_archived,
        '{{ this_build_id() }}' as build_id
    from base
    inner join touched on base.run_id = touched.run_id
    left join run_models on base.run_id = run_models.run_id
    left join llm_totals on base.run_id = llm_totals.run_id
    left join tool_totals on base.run_id = tool_totals.run_id

)

select * from final
