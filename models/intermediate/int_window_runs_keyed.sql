-- The runs that can enter this build's windows, once per group they count in:
-- fleet-wide, per value of each window dimension and of the run's main model, and per
-- tool it called. Prompt variants belong to their agent: a prompt_variant group is an
-- agent x variant (variant 1.5.0 of two agents is two groups), and agent_name names the
-- agent on those rows and on agent_name rows (null on groups that pool agents).
-- One row per (run_id, dimension, agent_name, dimension_value).
{%- set measures = 'run_id, event_at, status, cost_usd, step_count, duration_ms' %}

with

runs as (

    select * from {{ ref('fct_runs') }}

),

tool_calls as (

    select * from {{ ref('fct_tool_calls') }}

),

window_ends as (

    select * from {{ ref('int_window_ends_planned') }}

),

ended_runs as (

    -- A run enters windows when it ended (root span) or timed out (no root, silent
    -- for stale_after); running runs are in no window yet.
    select
        *,
        case when status = 'timeout' then timed_out_at else ended_at end as event_at
    from runs
    where
        status != 'running'
        -- A run's window time is at most stale_after after its last span.
        and last_span_at > (select min(window_ends.window_end_at) from window_ends)
        - interval 60 minute - {{ minutes_interval(var('stale_after_minutes')) }}

),

run_tools as (

    select distinct
        run_id,
        tool_name as called_tool
    from tool_calls

),

runs_by_tool as (

    select
        ended_runs.*,
        run_tools.called_tool
    from ended_runs
    inner join run_tools on ended_runs.run_id = run_tools.run_id

),

final as (

    select
        'fleet' as dimension,
        cast(null as string) as agent_name,
        'all' as dimension_value,
        {{ measures }}
    from ended_runs
    {%- for dimension in window_dimensions() + ['model'] %}
        union all
        select
            '{{ dimension }}' as dimension,
            {{ window_agent_scope(dimension) }} as agent_name,
            coalesce({{ dimension }}, '(none)') as dimension_value,
            {{ measures }}
        from ended_runs
    {%- endfor %}
    union all
    select
        'tool_name' as dimension,
        cast(null as string) as agent_name,
        called_tool as dimension_value,
        {{ measures }}
    from runs_by_tool

)

select * from final
