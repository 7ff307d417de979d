{#-
    fct_runs as of $eval_at, for the temporary views evaluation connections read
    (fleetsignals.sandbox, "as of $eval_at"); rendered by the build into
    int_as_of_views_rendered, so the views and the models share one text
    (macros/run_facts.sql) and the build's dimension mapping. DuckDB SQL, in two parts:

    runs_as_of_reassembled: the runs open at $eval_at (started, but a span of theirs ended
    or landed after it), each re-derived from its spans and calls known at $eval_at by the
    models' rules: dimensions, model, times, root and totals, as a build at $eval_at would
    have given them (started_at null: no span known yet). The sandbox stores it once per
    $eval_at (every signal of a cycle reads it).
    runs_as_of_select: fct_runs as of $eval_at: a run fully known keeps its row, an open
    one takes its re-derived columns, one with no span known is left out; every run's
    status is judged at $eval_at (not at the last build's watermark). Retention and label
    columns stay as of the last build.

    The sandbox fills in the placeholders:
    __SOURCE__        the snapshot's fct_runs
    __EVAL_AT__       $eval_at
    __OPEN_RUNS__     a relation (run_id) of the runs open at $eval_at
    __OPEN_SINCE__    the earliest started_at of those (null: none)
    __SPAN_KNOWN__    the condition on a span (end_at, landed_at) of being known at $eval_at
    __REASSEMBLED__   the stored rows of runs_as_of_reassembled
    fct_llm_calls, fct_tool_calls (unqualified): the calls as of $eval_at
-#}
{% macro runs_as_of_reassembled() -%}
with

open_runs as (
    select run_id from __OPEN_RUNS__
),

-- The open runs' spans known at $eval_at: lake partitions from the earliest start on.
spans as (
    select *
    from ({{ otel_spans(traces='select run_id from open_runs') }}) as lake_spans
    where
        (
            dt > cast(__OPEN_SINCE__ as date)
            or (dt = cast(__OPEN_SINCE__ as date) and hr >= hour(__OPEN_SINCE__))
        )
        and (dt < cast(__EVAL_AT__ as date) or (dt = cast(__EVAL_AT__ as date) and hr <= hour(__EVAL_AT__)))
        and __SPAN_KNOWN__
),

span_facts as (
    select
        trace_id as run_id,
        {{ run_span_facts() }}
    from spans
    group by trace_id
),

llm_calls as (
    select * from fct_llm_calls where run_id in (select run_id from open_runs)
),

tool_calls as (
    select * from fct_tool_calls where run_id in (select run_id from open_runs)
),

run_models as (
    {{ run_main_model('llm_calls') }}
),

llm_totals as (
    {{ run_llm_totals('llm_calls') }}
),

tool_totals as (
    {{ run_tool_totals('tool_calls') }}
),

final as (
    select
        open_runs.run_id,
        span_facts.* exclude (run_id),
        greatest(span_facts.last_span_at, span_facts.last_landed_at) as last_known_at,
        run_models.model,
        {{ run_totals('llm_totals', 'tool_totals') }}
    from open_runs
    left join span_facts on open_runs.run_id = span_facts.run_id
    left join run_models on open_runs.run_id = run_models.run_id
    left join llm_totals on open_runs.run_id = llm_totals.run_id
    left join tool_totals on open_runs.run_id = tool_totals.run_id
)

select * from final
{%- endmacro %}

{% macro runs_as_of_select() -%}
{%- set reassembled_columns = run_dimensions() + [
    'model', 'started_at', 'last_span_at', 'has_root', 'span_count', 'step_count',
    'llm_call_count', 'llm_error_count', 'tool_call_count', 'tool_error_count',
    'max_tool_streak', 'input_tokens', 'output_tokens', 'cache_read_tokens',
    'cache_write_tokens', 'reasoning_tokens', 'cost_usd', 'priced_cost_usd',
    'unpriced_call_count', 'last_known_at'
] -%}
with

runs as (
    select * from __SOURCE__ where started_at <= __EVAL_AT__
),

merged as (
    select
        runs.* replace (
            {%- for column in reassembled_columns %}
            case when reassembled.run_id is null then runs.{{ column }} else reassembled.{{ column }} end
                as {{ column }},
            {%- endfor %}
            case when reassembled.run_id is null then runs.status_message else reassembled.root_status_message end
                as status_message
        ),
        case
            when reassembled.run_id is not null then reassembled.root_status_code
            when runs.status = 'error' then 'error'
        end as as_of_root_status_code,
        case when reassembled.run_id is null then runs.ended_at else reassembled.root_ended_at end
            as as_of_root_ended_at
    from runs
    left join __REASSEMBLED__ as reassembled on runs.run_id = reassembled.run_id
    -- An open run with no span known at $eval_at was not known at all.
    where reassembled.run_id is null or reassembled.started_at is not null
),

judged as (
    select
        *,
        {{ run_status('has_root', 'as_of_root_status_code', 'last_span_at', '__EVAL_AT__') }} as as_of_status
    from merged
),

final as (
    select
        * exclude (as_of_root_status_code, as_of_root_ended_at, as_of_status)
        replace (
            as_of_status as status,
            {{ run_status_columns('as_of_status', 'started_at', 'as_of_root_ended_at', 'last_span_at') }},
            __EVAL_AT__ as watermark_at
        )
    from judged
)

select * from final
{%- endmacro %}
