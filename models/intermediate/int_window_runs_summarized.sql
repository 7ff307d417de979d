-- Run statistics per rolling window and group: the runs that ended in (T - 60m, T] for
-- each window end T this build computes. One row per
-- (window_end_at, dimension, agent_name, dimension_value) with at least one run.
with

window_ends as (

    select * from {{ ref('int_window_ends_planned') }}

),

keyed_runs as (

    select * from {{ ref('int_window_runs_keyed') }}

),

run_windows as (

    -- An event at e lies in the windows ending at the 12 grid points T with
    -- e <= T < e + 60m: the first is e rounded up to the 5-minute grid.
    select
        window_ends.window_end_at,
        keyed_runs.*
    from keyed_runs
    inner join window_ends
        on
            keyed_runs.event_at <= window_ends.window_end_at
            and window_ends.window_end_at < keyed_runs.event_at + interval 60 minute

),

final as (

    -- Percentiles are continuous (linear interpolation): one run gives that run's
    -- value at every percentile; no run with a known cost gives null, never 0.
    select
        window_end_at,
        dimension,
        agent_name,
        dimension_value,
        count(*) as run_count,
        count(*) filter (where status = 'ok') as ok_run_count,
        count(*) filter (where status = 'error') as error_run_count,
        count(*) filter (where status = 'timeout') as timeout_run_count,
        count(*) filter (where cost_usd is null) as unpriced_run_count,
        sum(cost_usd) as cost_usd,
        {{ percentiles_cont("cost_usd", [0.5, 0.95, 0.99]) }} as cost_usd_quantiles,
        {{ percentiles_cont("step_count", [0.5, 0.95, 0.99]) }} as step_count_quantiles,
        {{ percentiles_cont("duration_ms", [0.5, 0.95, 0.99]) }} as duration_ms_quantiles
    from run_windows
    group by window_end_at, dimension, agent_name, dimension_value

)

select * from final
