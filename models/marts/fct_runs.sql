-- One row per run (= trace), in-flight runs included. Status and ended_at are judged at
-- the lake's watermark (latest span end landed, each end counted no later than its
-- landing: int_build_watermarks_recorded), never the wall clock; retention's
-- decision is joined in (null reason and weight 1 while undecided), and the run's current
-- quality labels counted (as of the last build; signals read fct_labels as of their time).

with

runs as (

    select * from {{ ref('int_runs_assembled') }}

),

watermark as (

    select watermark_at
    from {{ ref('int_build_watermarks_recorded') }}
    order by build_seq desc
    limit 1

),

retention as (

    select * from {{ ref('stg_facts__retention') }}

),

run_labels as (

    -- Current quality labels per run (fct_run_scores: one per score name and source).
    select
        run_id,
        count(*) as label_count,
        count(*) filter (where is_bad) as bad_label_count
    from {{ ref('fct_run_scores') }}
    group by run_id

),

judged as (

    select
        runs.*,
        watermark.watermark_at,
        case
            when runs.has_root and runs.root_status_code = 'error' then 'error'
            when runs.has_root then 'ok'
            when runs.last_span_at <= watermark.watermark_at - {{ minutes_interval(var('stale_after_minutes')) }}
                then 'timeout'
            else 'running'
        end as status
    from runs
    cross join watermark

),

final as (

    select
        judged.run_id,
        {%- for dimension in run_dimensions() %}
            judged.{{ dimension }},
        {%- endfor %}
        judged.model,
        judged.started_at,
        case
            when judged.status in ('ok', 'error') then coalesce(judged.root_ended_at, judged.last_span_at)
            when judged.status = 'timeout' then judged.last_span_at
        end as ended_at,
        judged.last_span_at,
        judged.status,
        judged.step_count,
        judged.llm_call_count,
        judged.tool_call_count,
        judged.tool_error_count,
        judged.input_tokens,
        judged.output_tokens,
        judged.cost_usd,
        retention.retention_reason,
        coalesce(retention.sample_weight, 1.0) as sample_weight,
        judged.cache_read_tokens,
        judged.cache_write_tokens,
        judged.reasoning_tokens,
        judged.llm_error_count,
        judged.max_tool_streak,
        judged.priced_cost_usd,
        judged.unpriced_call_count,
        judged.span_count,
        judged.has_root,
        judged.root_status_message as status_message,
        case
            when judged.status = 'timeout'
                then judged.last_span_at + {{ minutes_interval(var('stale_after_minutes')) }}
        end as timed_out_at,
        case
            when judged.status != 'running'
                then {{ microseconds_between(
                        'judged.started_at',
                        'coalesce(judged.root_ended_at, judged.last_span_at)'
                    ) }} / 1000.0
        end as duration_ms,
        retention.decided_at as retention_decided_at,
        judged.is_archived,
        judged.watermark_at,
        coalesce(run_labels.label_count, 0) as label_count,
        coalesce(run_labels.bad_label_count, 0) as bad_label_count,
        coalesce(run_labels.bad_label_count, 0) > 0 as has_bad_label
    from judged
    left join retention on judged.run_id = retention.run_id
    left join run_labels on judged.run_id = run_labels.run_id

)

select * from final
