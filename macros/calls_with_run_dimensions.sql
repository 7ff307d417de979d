{#-
    The body of fct_llm_calls and fct_tool_calls: each call of the runs this build touched,
    with its run's partition hour and dimensions, stamped with this build's id. `calls` is
    the relation of calls (passed in as a ref() so dbt's graph sees it).
-#}
{% macro calls_with_run_dimensions(calls) -%}
with

calls as (

    select * from {{ calls }}

),

runs as (

    select *
    from {{ ref('int_runs_assembled') }}
    where build_id = '{{ this_build_id() }}'

),

final as (

    select
        calls.*,
        runs.part_at,
        {%- for dimension in run_dimensions() %}
            runs.{{ dimension }},
        {%- endfor %}
        '{{ this_build_id() }}' as build_id
    from calls
    inner join runs on calls.run_id = runs.run_id

)

select * from final
{%- endmacro %}
