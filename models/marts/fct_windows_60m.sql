-- Rolling windows: at every 5-minute step T, the trailing 60 minutes (T - 60m, T] of runs
-- and calls that ended in it, per group (dimension value, agent x prompt variant) and
-- fleet-wide. A window is built only from what ended at or before its end, so a signal
-- evaluated at T reads `where window_end_at <= $eval_at` and sees exactly what was
-- knowable then. Grain: (window_end_at, dimension, agent_name, dimension_value), with
-- agent_name null on groups that pool agents; the steps live in int_window_*.
{{ config(unique_key='window_end_at') }}

with

window_ends as (

    select * from {{ ref('int_window_ends_planned') }}

),

run_stats as (

    select * from {{ ref('int_window_runs_summarized') }}

),

call_stats as (

    select * from {{ ref('int_window_calls_summarized') }}

),

keys as (

    -- Every step has a fleet row, zeros included, so "nothing ended" is visible and a
    -- recomputed window always replaces its previous rows.
    select
        window_end_at,
        dimension,
        agent_name,
        dimension_value
    from run_stats
    union
    select
        window_end_at,
        dimension,
        agent_name,
        dimension_value
    from call_stats
    union
    select
        window_end_at,
        'fleet' as dimension,
        cast(null as string) as agent_name,
        'all' as dimension_value
    from window_ends

),

final as (

    select
        keys.window_end_at,
        keys.window_end_at - interval 60 minute as window_start_at,
        keys.dimension,
        keys.agent_name,
        keys.dimension_value,
        coalesce(run_stats.run_count, 0) as run_count,
        coalesce(run_stats.ok_run_count, 0) as ok_run_count,
        coalesce(run_stats.error_run_count, 0) as error_run_count,
        coalesce(run_stats.timeout_run_count, 0) as timeout_run_count,
        coalesce(run_stats.unpriced_run_count, 0) as unpriced_run_count,
        run_stats.cost_usd,
        {{ list_item('run_stats.cost_usd_quantiles', 1) }} as cost_usd_p50,
        {{ list_item('run_stats.cost_usd_quantiles', 2) }} as cost_usd_p95,
        {{ list_item('run_stats.cost_usd_quantiles', 3) }} as cost_usd_p99,
        {{ list_item('run_stats.step_count_quantiles', 1) }} as step_count_p50,
        {{ list_item('run_stats.step_count_quantiles', 2) }} as step_count_p95,
        {{ list_item('run_stats.step_count_quantiles', 3) }} as step_count_p99,
        {{ list_item('run_stats.duration_ms_quantiles', 1) }} as duration_ms_p50,
        {{ list_item('run_stats.duration_ms_quantiles', 2) }} as duration_ms_p95,
        {{ list_item('run_stats.duration_ms_quantiles', 3) }} as duration_ms_p99,
        coalesce(call_stats.llm_call_count, 0) + coalesce(call_stats.tool_call_count, 0) as call_count,
        coalesce(call_stats.llm_error_count, 0) + coalesce(call_stats.tool_error_count, 0) as call_error_count,
        coalesce(call_stats.llm_call_count, 0) as llm_call_count,
        coalesce(call_stats.llm_error_count, 0) as llm_error_count,
        coalesce(call_stats.tool_call_count, 0) as tool_call_count,
        coalesce(call_stats.tool_error_count, 0) as tool_error_count,
        coalesce(call_stats.input_tokens, 0) as input_tokens,
        coalesce(call_stats.output_tokens, 0) as output_tokens,
        date_trunc('hour', keys.window_end_at) as part_at,
        '{{ this_build_id() }}' as build_id
    from keys
    -- agent_name is null on groups that pool agents: null matches null here.
    left join run_stats
        on
            keys.window_end_at = run_stats.window_end_at
            and keys.dimension = run_stats.dimension
            and keys.agent_name is not distinct from run_stats.agent_name
            and keys.dimension_value = run_stats.dimension_value
    left join call_stats
        on
            keys.window_end_at = call_stats.window_end_at
            and keys.dimension = call_stats.dimension
            and keys.agent_name is not distinct from call_stats.agent_name
            and keys.dimension_value = call_stats.dimension_value

)

select * from final
