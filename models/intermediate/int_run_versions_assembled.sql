-- One row per run and version: the run's measured facts (everything of fct_runs that
-- does not depend on the judging time or on retention) as they stood from known_from
-- until known_until (null: still current). A version starts whenever more of the run's
-- spans became known (known_at, int_spans_touched: their file had been received), and
-- is computed from the spans known by then only: a root exported late leaves the run
-- rootless, with its dimensions from the other spans, until it is known. Recomputed for
-- the runs this build touched, from their spans, or from the archive for runs whose
-- spans retention pruned: those keep one version, from their start, with their final
-- facts (the archive keeps no history; retention prunes only runs ended long before).
{{ config(unique_key='run_id') }}

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

versions as (

    -- A version per arrival of the run's spans; an archived run has one.
    select distinct
        run_id,
        known_at as known_from,
        false as is_archived
    from spans
    union all
    select
        runs.run_id,
        runs.started_at as known_from,
        true as is_archived
    from {{ ref('stg_facts__runs') }} as runs
    inner join touched on runs.run_id = touched.run_id and touched.is_archived

),

spans_known as (

    select
        versions.known_from,
        spans.*
    from spans
    inner join versions on spans.run_id = versions.run_id and spans.known_at <= versions.known_from

),

llm_calls_known as (

    select
        versions.known_from,
        calls.*
    from {{ ref('int_llm_calls_priced') }} as calls
    inner join versions
        on
            calls.run_id = versions.run_id
            and (calls.known_at <= versions.known_from or versions.is_archived)

),

tool_calls_known as (

    select
        versions.known_from,
        calls.*
    from {{ ref('int_tool_calls_sequenced') }} as calls
    inner join versions
        on
            calls.run_id = versions.run_id
            and (calls.known_at <= versions.known_from or versions.is_archived)

),

lake_runs as (

    -- A dimension comes from the root span, else the earliest span that has it,
    -- else the resource (root first, then earliest).
    select
        run_id,
        known_from,
        {%- for dimension in dimensions %}
            coalesce(
                arg_min({{ dimension }}, start_at) filter (where is_root and {{ dimension }} is not null),
                arg_min({{ dimension }}, start_at) filter (where {{ dimension }} is not null),
                arg_min(resource_{{ dimension }}, start_at) filter (
                    where is_root and resource_{{ dimension }} is not null
                ),
                arg_min(resource_{{ dimension }}, start_at) filter (where resource_{{ dimension }} is not null)
            ) as {{ dimension }},
        {%- endfor %}
        min(start_at) as started_at,
        max(end_at) as last_span_at,
        max(end_at) filter (where is_root) as root_ended_at,
        coalesce(bool_or(is_root), false) as has_root,
        arg_min(status_code, start_at) filter (where is_root) as root_status_code,
        arg_min(status_message, start_at) filter (where is_root) as root_status_message,
        count(*) as span_count,
        max(landed_at) as last_landed_at
    from spans_known
    group by run_id, known_from

),

archived_runs as (

    select
        runs.run_id,
        runs.started_at as known_from,
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

model_counts as (

    select
        run_id,
        known_from,
        model,
        count(*) as call_count
    from llm_calls_known
    where model is not null
    group by run_id, known_from, model

),

run_models as (

    -- The model of most of the run's LLM calls; ties go to the first name.
    select
        run_id,
        known_from,
        model
    from model_counts
    qualify row_number() over (
            partition by run_id, known_from order by call_count desc, model asc
        ) = 1

),

llm_totals as (

    -- Tokens and cost over LLM calls only: agent spans may repeat their children's usage.
    select
        run_id,
        known_from,
        count(*) as llm_call_count,
        count(*) filter (where is_error) as llm_error_count,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens,
        cast(sum(cache_read_tokens) as bigint) as cache_read_tokens,
        cast(sum(cache_write_tokens) as bigint) as cache_write_tokens,
        cast(sum(reasoning_tokens) as bigint) as reasoning_tokens,
        sum(cost_usd) as priced_cost_usd,
        count(*) filter (where not is_priced) as unpriced_call_count
    from llm_calls_known
    group by run_id, known_from

),

tool_totals as (

    select
        run_id,
        known_from,
        count(*) as tool_call_count,
        count(*) filter (where is_error) as tool_error_count,
        max(streak_position) as max_tool_streak
    from tool_calls_known
    group by run_id, known_from

),

final as (

    select
        base.run_id,
        base.known_from,
        lead(base.known_from) over (partition by base.run_id order by base.known_from) as known_until,
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
        coalesce(llm_totals.llm_call_count, 0) + coalesce(tool_totals.tool_call_count, 0) as step_count,
        coalesce(llm_totals.llm_call_count, 0) as llm_call_count,
        coalesce(llm_totals.llm_error_count, 0) as llm_error_count,
        coalesce(tool_totals.tool_call_count, 0) as tool_call_count,
        coalesce(tool_totals.tool_error_count, 0) as tool_error_count,
        coalesce(tool_totals.max_tool_streak, 0) as max_tool_streak,
        coalesce(llm_totals.input_tokens, 0) as input_tokens,
        coalesce(llm_totals.output_tokens, 0) as output_tokens,
        coalesce(llm_totals.cache_read_tokens, 0) as cache_read_tokens,
        coalesce(llm_totals.cache_write_tokens, 0) as cache_write_tokens,
        coalesce(llm_totals.reasoning_tokens, 0) as reasoning_tokens,
        -- Unknown when any call is unpriced: a partial sum would read as a cheap run.
        case
            when coalesce(llm_totals.unpriced_call_count, 0) > 0 then null
            else coalesce(llm_totals.priced_cost_usd, 0)
        end as cost_usd,
        coalesce(llm_totals.priced_cost_usd, 0) as priced_cost_usd,
        coalesce(llm_totals.unpriced_call_count, 0) as unpriced_call_count,
        base.last_landed_at,
        touched.is_archived,
        '{{ this_build_id() }}' as build_id
    from base
    inner join touched on base.run_id = touched.run_id
    left join run_models on base.run_id = run_models.run_id and base.known_from = run_models.known_from
    left join llm_totals on base.run_id = llm_totals.run_id and base.known_from = llm_totals.known_from
    left join tool_totals on base.run_id = tool_totals.run_id and base.known_from = tool_totals.known_from

)

select * from final
