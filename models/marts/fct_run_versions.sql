-- One row per run and version (int_run_versions_assembled): what was known of the run
-- from known_from until known_until (null: still current). Signals never read it
-- directly: evaluation binds fct_runs to as_of__fct_runs, which picks the version known
-- at the evaluation time from here.
{{ config(unique_key='run_id') }}

with

versions as (

    select * from {{ ref('int_run_versions_assembled') }}
    where build_id = '{{ this_build_id() }}'

)

select * from versions
