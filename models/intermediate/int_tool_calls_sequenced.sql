-- The tool calls of the runs this build recomputes, numbered within their run and
-- within streaks of consecutive calls of the same tool (ordered by start).
with

touched as (

    select
        run_id,
        is_archived
    from {{ ref('int_runs_indexed') }}
    where build_id = '{{ this_build_id() }}'

),

lake_calls as (

    select
        run_id,
        span_id,
        parent_span_id,
        span_name,
        start_at as started_at,
        end_at as ended_at,
        duration_ms,
        -- a tool span without a tool-name key (LangSmith names the span after the tool)
        coalesce(tool_name, nullif(span_name, ''), '(unknown)') as tool_name,
        tool_call_id,
        tool_args_hash,
        status_code = 'error' as is_error,
        landed_at
    from {{ ref('int_spans_touched') }}
    where operation = 'tool'

),

archived_calls as (

    select
        calls.run_id,
        calls.span_id,
        calls.parent_span_id,
        calls.span_name,
        calls.started_at,
        calls.ended_at,
        calls.duration_ms,
        calls.tool_name,
        calls.tool_call_id,
        calls.tool_args_hash,
        calls.is_error,
        calls.landed_at
    from {{ ref('stg_facts__tool_calls') }} as calls
    inner join touched on calls.run_id = touched.run_id and touched.is_archived

),

calls as (

    select * from lake_calls
    union all
    select * from archived_calls

),

indexed as (

    select
        *,
        row_number() over (partition by run_id order by started_at, span_id) as call_index,
        row_number() over (partition by run_id, tool_name order by started_at, span_id) as tool_call_index
    from calls

),

streaks as (

    -- Gaps and islands: within a streak of one tool, both indexes advance together.
    select
        *,
        call_index - tool_call_index as streak_group
    from indexed

),

final as (

    select
        run_id,
        span_id,
        parent_span_id,
        span_name,
        started_at,
        ended_at,
        duration_ms,
        tool_name,
        tool_call_id,
        tool_args_hash,
        is_error,
        landed_at,
        call_index,
        row_number() over (
            partition by run_id, tool_name, streak_group order by started_at, span_id
        ) as streak_position
    from streaks

)

select * from final
