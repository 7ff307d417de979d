-- Call counts per rolling window and group: the calls that ended in (T - 60m, T] for
-- each window end T this build computes. One row per
-- (window_end_at, dimension, agent_name, dimension_value) with at least one call.
with

window_ends as (

    select * from {{ ref('int_window_ends_planned') }}

),

keyed_calls as (

    select * from {{ ref('int_window_calls_keyed') }}

),

call_windows as (

    -- As for runs: a call that ended at e lies in the windows T with e <= T < e + 60m.
    select
        window_ends.window_end_at,
        keyed_calls.*
    from keyed_calls
    inner join window_ends
        on
            keyed_calls.event_at <= window_ends.window_end_at
            and window_ends.window_end_at < keyed_calls.event_at + interval 60 minute

),

final as (

    select
        window_end_at,
        dimension,
        agent_name,
        dimension_value,
        count(*) filter (where call_kind = 'llm') as llm_call_count,
        count(*) filter (where call_kind = 'llm' and is_error) as llm_error_count,
        count(*) filter (where call_kind = 'tool') as tool_call_count,
        count(*) filter (where call_kind = 'tool' and is_error) as tool_error_count,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens
    from call_windows
    group by window_end_at, dimension, agent_name, dimension_value

)

select * from final
