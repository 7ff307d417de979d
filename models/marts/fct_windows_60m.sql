-- Rolling windows: at every 5-minute step T, the trailing 60 minutes (T - 60m, T] of runs
-- and calls that ended in it, per dimension value and fleet-wide. A window is built only
-- from what ended at or before its end, so a signal evaluated at T reads
-- `where window_end_at <= $eval_at` and sees exactly what was knowable then.
-- Grain: (window_end_at, dimension, dimension_value).
{{ config(unique_key='window_end_at') }}

{%- set dimensions = ['agent_name', 'prompt_variant', 'workflow', 'tenant_id', 'user_cohort'] %}

with

runs as (

    select * from {{ ref('fct_runs') }}

),

llm_calls as (

    select * from {{ ref('fct_llm_calls') }}

),

tool_calls as (

    select * from {{ ref('fct_tool_calls') }}

),

builds as (

    select * from {{ ref('int_build_watermarks_recorded') }}

),

assembled as (

    select * from {{ ref('int_runs_assembled') }}

),

bounds as (

    -- The window ends this build (re)computes, on the 5-minute grid:
    -- - last: the watermark floored (a later window would be incomplete);
    -- - first: on a full build, the first window after the earliest run start;
    --   incrementally, the earliest of the windows after the previous watermark
    --   (runs may have entered them by timing out) and the windows at or after the
    --   start of any run this build recomputed (its old and new ends lie after it).
    select
        time_bucket(interval 5 minute, this_build.watermark_at) as last_end,
        -- Rounded up to the grid (an end exactly on it is its own first window).
        time_bucket(
            interval 5 minute,
            {%- if is_incremental() %}
            least(
                (
                    select max(previous.watermark_at) from builds as previous
                    where previous.build_seq < this_build.build_seq and previous.is_complete
                ),
                (select min(assembled.started_at) from assembled where assembled.build_id = '{{ this_build_id() }}')
            )
            {%- else %}
                (select min(assembled.started_at) from assembled)
            {%- endif %}
            - interval 1 microsecond
        ) + interval 5 minute as first_end
    from builds as this_build
    where this_build.build_id = '{{ this_build_id() }}'

),

activity as (

    -- Steps worth a window: from a run's start until a day after it can last enter one
    -- (zeros included, so a fleet that stops is visible for a day), not the empty years
    -- between an old file and today's data.
    select
        coalesce(started_at, last_span_at) as active_from,
        last_span_at + {{ minutes_interval(var('stale_after_minutes')) }}
        + interval 25 hour as active_to
    from runs

),

reaches as (

    select
        activity.active_from,
        activity.active_to,
        max(activity.active_to) over (
            order by activity.active_from rows between unbounded preceding and 1 preceding
        ) as reached_before
    from activity
    cross join bounds
    where
        activity.active_from <= bounds.last_end
        and activity.active_to >= bounds.first_end

),

islands as (

    -- Overlapping activity merges into islands (a new one where a run starts after all
    -- earlier ones' reach).
    select
        active_from,
        active_to,
        sum(case when reached_before is null or active_from > reached_before then 1 else 0 end)
            over (order by active_from rows unbounded preceding)
            as island
    from reaches

),

island_spans as (

    select
        greatest(min(islands.active_from), any_value(bounds.first_end)) as span_from,
        least(max(islands.active_to), any_value(bounds.last_end)) as span_to
    from islands
    cross join bounds
    group by islands.island

),

grid as (

    -- 5-minute steps of each island (rounded up to the grid), within this build's bounds.
    select distinct
        unnest(generate_series(
            time_bucket(interval 5 minute, span_from - interval 1 microsecond) + interval 5 minute,
            span_to,
            interval 5 minute
        )) as window_end_at
    from island_spans
    where span_from <= span_to

),

ended_runs as (

    -- A run enters windows when it ended (root span) or timed out (no root, silent
    -- for stale_after); running runs are in no window yet.
    select
        run_id,
        status,
        cost_usd,
        step_count,
        duration_ms,
        model,
        agent_name,
        prompt_variant,
        workflow,
        tenant_id,
        user_cohort,
        case when status = 'timeout' then timed_out_at else ended_at end as event_at
    from runs
    where
        status != 'running'
        -- A run's window time is at most stale_after after its last span.
        and last_span_at > (select min(grid.window_end_at) from grid)
        - interval 60 minute - {{ minutes_interval(var('stale_after_minutes')) }}

),

run_tools as (

    select distinct
        run_id,
        tool_name
    from tool_calls

),

run_keys as (

    -- One row per (run, dimension, value): a run counts once per tool it called.
    select
        run_id,
        'fleet' as dimension,
        'all' as dimension_value
    from ended_runs
    {%- for dimension in dimensions + ['model'] %}
        union all
        select
            run_id,
            '{{ dimension }}' as dimension,
            coalesce({{ dimension }}, '(none)') as dimension_value
        from ended_runs
    {%- endfor %}
    union all
    select
        ended_runs.run_id,
        'tool_name' as dimension,
        run_tools.tool_name as dimension_value
    from ended_runs
    inner join run_tools on ended_runs.run_id = run_tools.run_id

),

ended_calls as (

    select
        'llm' as call_kind,
        ended_at as event_at,
        is_error,
        input_tokens,
        output_tokens,
        model,
        cast(null as varchar) as tool_name,
        agent_name,
        prompt_variant,
        workflow,
        tenant_id,
        user_cohort
    from llm_calls
    where ended_at > (select min(grid.window_end_at) from grid) - interval 60 minute
    union all
    select
        'tool' as call_kind,
        ended_at as event_at,
        is_error,
        0 as input_tokens,
        0 as output_tokens,
        cast(null as varchar) as model,
        tool_name,
        agent_name,
        prompt_variant,
        workflow,
        tenant_id,
        user_cohort
    from tool_calls
    where ended_at > (select min(grid.window_end_at) from grid) - interval 60 minute

),

call_keys as (

    select
        *,
        'fleet' as dimension,
        'all' as dimension_value
    from ended_calls
    {%- for dimension in dimensions %}
        union all
        select
            *,
            '{{ dimension }}' as dimension,
            coalesce({{ dimension }}, '(none)') as dimension_value
        from ended_calls
    {%- endfor %}
    union all
    select
        *,
        'model' as dimension,
        coalesce(model, '(none)') as dimension_value
    from ended_calls
    where call_kind = 'llm'
    union all
    select
        *,
        'tool_name' as dimension,
        tool_name as dimension_value
    from ended_calls
    where call_kind = 'tool'

),

run_windows as (

    -- An event at e lies in the windows ending at the 12 grid points T with
    -- e <= T < e + 60m: the first is e rounded up to the 5-minute grid.
    select
        grid.window_end_at,
        run_keys.dimension,
        run_keys.dimension_value,
        ended_runs.*
    from ended_runs
    inner join run_keys on ended_runs.run_id = run_keys.run_id
    inner join grid
        on
            ended_runs.event_at <= grid.window_end_at
            and grid.window_end_at < ended_runs.event_at + interval 60 minute

),

call_windows as (

    select
        grid.window_end_at,
        call_keys.*
    from call_keys
    inner join grid
        on
            call_keys.event_at <= grid.window_end_at
            and grid.window_end_at < call_keys.event_at + interval 60 minute

),

run_stats as (

    -- Percentiles are continuous (linear interpolation): one run gives that run's
    -- value at every percentile; no run with a known cost gives null, never 0.
    select
        window_end_at,
        dimension,
        dimension_value,
        count(*) as run_count,
        count(*) filter (where status = 'ok') as ok_run_count,
        count(*) filter (where status = 'error') as error_run_count,
        count(*) filter (where status = 'timeout') as timeout_run_count,
        count(*) filter (where cost_usd is null) as unpriced_run_count,
        sum(cost_usd) as cost_usd,
        quantile_cont(cost_usd, [0.5, 0.95, 0.99]) as cost_q,
        quantile_cont(step_count, [0.5, 0.95, 0.99]) as step_q,
        quantile_cont(duration_ms, [0.5, 0.95, 0.99]) as duration_q
    from run_windows
    group by window_end_at, dimension, dimension_value

),

call_stats as (

    select
        window_end_at,
        dimension,
        dimension_value,
        count(*) filter (where call_kind = 'llm') as llm_call_count,
        count(*) filter (where call_kind = 'llm' and is_error) as llm_error_count,
        count(*) filter (where call_kind = 'tool') as tool_call_count,
        count(*) filter (where call_kind = 'tool' and is_error) as tool_error_count,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens
    from call_windows
    group by window_end_at, dimension, dimension_value

),

fleet_grid as (

    -- Every step has a fleet row, zeros included, so "nothing ended" is visible and a
    -- recomputed window always replaces its previous rows.
    select
        window_end_at,
        'fleet' as dimension,
        'all' as dimension_value
    from grid

),

keys as (

    select
        window_end_at,
        dimension,
        dimension_value
    from run_stats
    union
    select
        window_end_at,
        dimension,
        dimension_value
    from call_stats
    union
    select
        window_end_at,
        dimension,
        dimension_value
    from fleet_grid

),

final as (

    select
        keys.window_end_at,
        keys.window_end_at - interval 60 minute as window_start_at,
        keys.dimension,
        keys.dimension_value,
        coalesce(run_stats.run_count, 0) as run_count,
        coalesce(run_stats.ok_run_count, 0) as ok_run_count,
        coalesce(run_stats.error_run_count, 0) as error_run_count,
        coalesce(run_stats.timeout_run_count, 0) as timeout_run_count,
        coalesce(run_stats.unpriced_run_count, 0) as unpriced_run_count,
        run_stats.cost_usd,
        run_stats.cost_q[1] as cost_usd_p50,
        run_stats.cost_q[2] as cost_usd_p95,
        run_stats.cost_q[3] as cost_usd_p99,
        run_stats.step_q[1] as step_count_p50,
        run_stats.step_q[2] as step_count_p95,
        run_stats.step_q[3] as step_count_p99,
        run_stats.duration_q[1] as duration_ms_p50,
        run_stats.duration_q[2] as duration_ms_p95,
        run_stats.duration_q[3] as duration_ms_p99,
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
    left join run_stats
        on
            keys.window_end_at = run_stats.window_end_at
            and keys.dimension = run_stats.dimension
            and keys.dimension_value = run_stats.dimension_value
    left join call_stats
        on
            keys.window_end_at = call_stats.window_end_at
            and keys.dimension = call_stats.dimension
            and keys.dimension_value = call_stats.dimension_value

)

select * from final
