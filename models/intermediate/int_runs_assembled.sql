-- One row per run with its measured facts (everything of fct_runs that does not depend
-- on the watermark or on retention). Recomputed for the runs this build touched, from
-- their spans, or from the archive for runs whose spans retention pruned.
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

llm_calls as (

    select * from {{ ref('int_llm_calls_priced') }}

),

tool_calls as (

    select * from {{ ref('int_tool_calls_sequenced') }}

),

lake_runs as (

    -- A dimension comes from the root span, else the earliest span that has it,
    -- else the resource (root first, then earliest).
    select
        run_id,
        {%- for dimension in dimensions %}
            coalesce(
                {{ value_at_min(dimension, "start_at") }} filter (where is_root and {{ dimension }} is not null),
                {{ value_at_min(dimension, "start_at") }} filter (where {{ dimension }} is not null),
                {{ value_at_min("resource_" ~ dimension, "start_at") }} filter (
                    where is_root and resource_{{ dimension }} is not null
                ),
                {{ value_at_min("resource_" ~ dimension, "start_at") }} filter (
                    where resource_{{ dimension }} is not null
                )
            ) as {{ dimension }},
        {%- endfor %}
        min(start_at) as started_at,
        max(end_at) as last_span_at,
        max(end_at) filter (where is_root) as root_ended_at,
        coalesce(bool_or(is_root), false) as has_root,
        {{ value_at_min("status_code", "start_at") }} filter (where is_root) as root_status_code,
        {{ value_at_min("status_message", "start_at") }} filter (where is_root) as root_status_message,
        count(*) as span_count,
        max(landed_at) as last_landed_at
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

model_counts as (

    select
        run_id,
        model,
        count(*) as call_count
    from llm_calls
    where model is not null
    group by run_id, model

),

run_models as (

    -- The model of most of the run's LLM calls; ties go to the first name.
    select
        run_id,
        model
    from model_counts
    qualify row_number() over (partition by run_id order by call_count desc, model asc) = 1

),

llm_totals as (

    -- Tokens and cost over LLM calls only: agent spans may repeat their children's usage.
    select
        run_id,
        count(*) as llm_call_count,
        count(*) filter (where is_error) as llm_error_count,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens,
        cast(sum(cache_read_tokens) as bigint) as cache_read_tokens,
        cast(sum(cache_write_tokens) as bigint) as cache_write_tokens,
        cast(sum(reasoning_tokens) as bigint) as reasoning_tokens,
        sum(cost_usd) as priced_cost_usd,
        count(*) filter (where not is_priced) as unpriced_call_count
    from llm_calls
    group by run_id

),

tool_totals as (

    select
        run_id,
        count(*) as tool_call_count,
        count(*) filter (where is_error) as tool_error_count,
        max(streak_position) as max_tool_streak
    from tool_calls
    group by run_id

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
    left join run_models on base.run_id = run_models.run_id
    left join llm_totals on base.run_id = llm_totals.run_id
    left join tool_totals on base.run_id = tool_totals.run_id

)

select * from final
