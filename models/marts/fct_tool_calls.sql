-- One row per tool call with its run's dimensions. Incremental: the calls of the runs
-- this build touched replace their previous rows.
{{ config(unique_key='run_id') }}

with

calls as (

    select * from {{ ref('int_tool_calls_sequenced') }}

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
