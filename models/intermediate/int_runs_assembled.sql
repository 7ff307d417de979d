-- One row per run with its measured facts (everything of fct_runs that does not depend
-- on the watermark or on retention): the current version of each run this build
-- touched (int_run_versions_assembled), i.e. from every span landed.
{{ config(unique_key='run_id') }}

with

versions as (

    select * from {{ ref('int_run_versions_assembled') }}
    where build_id = '{{ this_build_id() }}'

),

final as (

    select * exclude (known_from, known_until)
    from versions
    where known_until is null

)

select * from final
