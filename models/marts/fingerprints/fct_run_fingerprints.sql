-- One row per completed run (status ok or error) with its behavioural features
-- (docs/fingerprints.md). Incremental: the runs this build touched replace their rows, so a
-- late span of a finished run updates its fingerprint.
{{ config(unique_key='run_id') }}

with

touched as (

    select
        run_id,
        part_at
    from {{ ref('int_runs_assembled') }}
    where build_id = '{{ this_build_id() }}'

),

runs as (

    select
        runs.*,
        touched.part_at
    from {{ ref('fct_runs') }} as runs
    inner join touched on runs.run_id = touched.run_id
    where runs.status in ('ok', 'error')

),

calls as (

    select
        calls.run_id,
        calls.tool_name,
        calls.is_error,
        calls.call_index
    from {{ ref('fct_tool_calls') }} as calls
    inner join runs on calls.run_id = runs.run_id

),

calls_marked as (

    -- first_index: where this tool first appeared in the run; last_ok_index: its last
    -- successful call (an error before it was recovered from).
    select
        *,
        lag(tool_name) over (partition by run_id order by call_index) as previous_tool,
        min(call_index) over (partition by run_id, tool_name) as first_index,
        max(case when not is_error then call_index end) over (
            partition by run_id, tool_name
        ) as last_ok_index
    from calls

),

sequence_stats as (

    select
        run_id,
        count(distinct tool_name) as distinct_tool_count,
        count(*) filter (where previous_tool = tool_name) as repeat_count,
        count(*) filter (
            where previous_tool != tool_name and first_index < call_index
        ) as backtrack_count,
        count(*) filter (where is_error) as error_count,
        count(*) filter (where is_error and last_ok_index > call_index) as recovered_count
    from calls_marked
    group by run_id

),

tool_counts as (

    select
        run_id,
        tool_name,
        count(*) as call_count
    from calls
    group by run_id, tool_name

),

tool_totals as (

    select
        *,
        sum(call_count) over (partition by run_id) as total
    from tool_counts

),

tool_mix as (

    select
        run_id,
        map(
            list(tool_name order by tool_name),
            list(call_count * 1.0 / total order by tool_name)
        ) as tool_shares
    from tool_totals
    group by run_id

),

final as (

    select
        runs.run_id,
        runs.agent_name,
        runs.prompt_variant,
        runs.started_at,
        runs.ended_at,
        runs.status,
        runs.step_count,
        runs.llm_call_count,
        runs.tool_call_count,
        coalesce(seq.distinct_tool_count, 0) as distinct_tool_count,
        case
            when runs.llm_call_count > 0 then runs.tool_call_count * 1.0 / runs.llm_call_count
            else 0.0
        end as tools_per_llm_call,
        case
            when runs.tool_call_count > 1 then seq.repeat_count * 1.0 / (runs.tool_call_count - 1)
            else 0.0
        end as repeat_ratio,
        case
            when runs.tool_call_count > 1 then seq.backtrack_count * 1.0 / (runs.tool_call_count - 1)
            else 0.0
        end as backtrack_ratio,
        case
            when runs.tool_call_count > 0 then coalesce(seq.error_count, 0) * 1.0 / runs.tool_call_count
            else 0.0
        end as tool_error_rate,
        -- Null when the run had no tool error: there was nothing to recover from.
        case
            when seq.error_count > 0 then seq.recovered_count * 1.0 / seq.error_count
        end as recovery_rate,
        case
            when runs.llm_call_count > 0 then runs.output_tokens * 1.0 / runs.llm_call_count
            else 0.0
        end as output_tokens_per_llm_call,
        case
            when runs.step_count > 0
                then ln(1 + (runs.input_tokens + runs.output_tokens) * 1.0 / runs.step_count)
            else 0.0
        end as log_tokens_per_step,
        case
            when runs.step_count > 0 then ln(1 + runs.duration_ms / runs.step_count)
            else 0.0
        end as log_duration_per_step_ms,
        ln(1 + runs.output_tokens) as log_output_tokens,
        coalesce(tool_mix.tool_shares, map()) as tool_shares,
        runs.part_at,
        '{{ this_build_id() }}' as build_id
    from runs
    left join sequence_stats as seq on runs.run_id = seq.run_id
    left join tool_mix on runs.run_id = tool_mix.run_id

)

select * from final
