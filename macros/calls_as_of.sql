{#-
    The body of as_of__fct_llm_calls and as_of__fct_tool_calls: the calls of `calls` (a
    ref) known by the evaluation time (the DuckDB variable eval_at), each with its run's
    dimensions as known then (the run's version in fct_run_versions). A call known by
    eval_at always has a run version known by then: versions start at each arrival.
-#}
{% macro calls_as_of(calls) -%}
with

calls as (

    select *
    from {{ calls }}
    where known_at <= getvariable('eval_at')

),

versions as (

    select
        run_id,
        {%- for dimension in run_dimensions() %}
            {{ dimension }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('fct_run_versions') }}
    where
        known_from <= getvariable('eval_at')
        and (known_until > getvariable('eval_at') or known_until is null)

),

final as (

    select
        calls.* replace (
            {%- for dimension in run_dimensions() %}
                versions.{{ dimension }} as {{ dimension }}{{ "," if not loop.last }}
            {%- endfor %}
        )
    from calls
    inner join versions on calls.run_id = versions.run_id

)

select * from final
{%- endmacro %}
