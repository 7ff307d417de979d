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
        {{ run_status('runs.has_root', 'runs.root_status_code', 'runs.last_span_at', 'watermark.watermark_at') }}
            as status
    from runs
    cross join watermark

),

settled as (

    select
        judged.*,
        {{ run_status_columns('judged.status', 'judged.started_at', 'judged.root_ended_at', 'judged.last_span_at') }}
    from judged

),

final as (

    select
        settled.run_id,
        {%- for dimension in run_dimensions() %}
            settled.{{ dimension }},
        {%- endfor %}
        settled.model,
        settled.started_at,
        settled.ended_at,
        settled.last_span_at,
        settled.status,
        settled.step_count,
        settled.llm_call_count,
        settled.tool_call_count,
        settled.tool_error_count,
        settled.input_tokens,
        settled.output_tokens,
        settled.cost_usd,
        retention.retention_reason,
        coalesce(retention.sample_weight, 1.0) as sample_weight,
        settled.cache_read_tokens,
        settled.cache_write_tokens,
        settled.reasoning_tokens,
        settled.llm_error_count,
        settled.max_tool_streak,
        settled.priced_cost_usd,
        settled.unpriced_call_count,
        settled.span_count,
        settled.has_root,
        settled.root_status_message as status_message,
        settled.timed_out_at,
        settled.duration_ms,
        retention.decided_at as retention_decided_at,
        settled.is_archived,
        settled.watermark_at,
        -- When the run was fully known: its last span ended and landed (the as-of view of
        -- fct_runs re-derives runs not fully known at $eval_at).
        greatest(settled.last_span_at, settled.last_landed_at) as last_known_at,
        coalesce(run_labels.label_count, 0) as label_count,
        coalesce(run_labels.bad_label_count, 0) as bad_label_count,
        coalesce(run_labels.bad_label_count, 0) > 0 as has_bad_label
    from settled
    left join retention on settled.run_id = retention.run_id
    left join run_labels on settled.run_id = run_labels.run_id

)

select * from final
