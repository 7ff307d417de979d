{#-
    The rules that make a run's row from its spans and calls, shared by the models
    (int_runs_assembled, fct_runs) and the as-of view of fct_runs that evaluation
    connections read (runs_as_of_select, fleetsignals.sandbox): a run in flight at $eval_at
    is re-derived there from what was known then, by the same text.
-#}

{#-
    Aggregates over a run's spans (columns of stg_otel__spans), grouped by trace: its
    dimensions, times, root and counts. A dimension comes from the root span, else the
    earliest span that has it, else the resource (root first, then earliest).
-#}
{% macro run_span_facts() -%}
    {%- for dimension in run_dimensions() %}
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
{%- endmacro %}

{#- The run's model: the model of most of its LLM calls (relation `calls`); ties go to the first name. -#}
{% macro run_main_model(calls) -%}
    select
        run_id,
        model
    from (
        select
            run_id,
            model,
            count(*) as call_count
        from {{ calls }}
        where model is not null
        group by run_id, model
    ) as model_counts
    qualify row_number() over (partition by run_id order by call_count desc, model asc) = 1
{%- endmacro %}

{#- Per run: counts, tokens and cost over LLM calls only (agent spans may repeat their children's usage). -#}
{% macro run_llm_totals(calls) -%}
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
    from {{ calls }}
    group by run_id
{%- endmacro %}

{#- Per run: tool calls, their errors and the longest streak of one tool. -#}
{% macro run_tool_totals(calls) -%}
    select
        run_id,
        count(*) as tool_call_count,
        count(*) filter (where is_error) as tool_error_count,
        max(streak_position) as max_tool_streak
    from {{ calls }}
    group by run_id
{%- endmacro %}

{#- The run's totals from the relations (aliases) run_llm_totals and run_tool_totals made. -#}
{% macro run_totals(llm_totals, tool_totals) -%}
        coalesce({{ llm_totals }}.llm_call_count, 0) + coalesce({{ tool_totals }}.tool_call_count, 0) as step_count,
        coalesce({{ llm_totals }}.llm_call_count, 0) as llm_call_count,
        coalesce({{ llm_totals }}.llm_error_count, 0) as llm_error_count,
        coalesce({{ tool_totals }}.tool_call_count, 0) as tool_call_count,
        coalesce({{ tool_totals }}.tool_error_count, 0) as tool_error_count,
        coalesce({{ tool_totals }}.max_tool_streak, 0) as max_tool_streak,
        coalesce({{ llm_totals }}.input_tokens, 0) as input_tokens,
        coalesce({{ llm_totals }}.output_tokens, 0) as output_tokens,
        coalesce({{ llm_totals }}.cache_read_tokens, 0) as cache_read_tokens,
        coalesce({{ llm_totals }}.cache_write_tokens, 0) as cache_write_tokens,
        coalesce({{ llm_totals }}.reasoning_tokens, 0) as reasoning_tokens,
        -- Unknown when any call is unpriced: a partial sum would read as a cheap run.
        case
            when coalesce({{ llm_totals }}.unpriced_call_count, 0) > 0 then null
            else coalesce({{ llm_totals }}.priced_cost_usd, 0)
        end as cost_usd,
        coalesce({{ llm_totals }}.priced_cost_usd, 0) as priced_cost_usd,
        coalesce({{ llm_totals }}.unpriced_call_count, 0) as unpriced_call_count
{%- endmacro %}

{#-
    A run's status judged at `judged_at` (SQL expressions all): ok or error once its root
    span is known, else timeout when its last span ended stale_after_minutes before, else
    running.
-#}
{% macro run_status(has_root, root_status_code, last_span_at, judged_at) -%}
    case
        when {{ has_root }} and {{ root_status_code }} = 'error' then 'error'
        when {{ has_root }} then 'ok'
        when {{ last_span_at }} <= {{ judged_at }} - {{ minutes_interval(var('stale_after_minutes')) }}
            then 'timeout'
        else 'running'
    end
{%- endmacro %}

{#- The columns that follow from a run's status (SQL expressions): ended_at, timed_out_at, duration_ms. -#}
{% macro run_status_columns(status, started_at, root_ended_at, last_span_at) -%}
        case
            when {{ status }} in ('ok', 'error') then coalesce({{ root_ended_at }}, {{ last_span_at }})
            when {{ status }} = 'timeout' then {{ last_span_at }}
        end as ended_at,
        case
            when {{ status }} = 'timeout'
                then {{ last_span_at }} + {{ minutes_interval(var('stale_after_minutes')) }}
        end as timed_out_at,
        case
            when {{ status }} != 'running'
                {#- A double on both engines: Spark types `bigint / 1000.0` as a decimal. -#}
                then cast({{ microseconds_between(
                        started_at,
                        'coalesce(' ~ root_ended_at ~ ', ' ~ last_span_at ~ ')'
                    ) }} as double) / 1000
        end as duration_ms
{%- endmacro %}
