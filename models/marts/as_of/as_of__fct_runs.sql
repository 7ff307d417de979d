-- fct_runs as known at the evaluation time (the DuckDB variable eval_at, which signal
-- evaluation sets and binds fct_runs to this view): each run's version known then
-- (fct_run_versions), judged at eval_at. A run none of whose spans was known by then
-- is absent. Retention's decision is the current one (it is not a span-derived value).

with

runs as (

    select * exclude (known_from, known_until)
    from {{ ref('fct_run_versions') }}
    where
        known_from <= getvariable('eval_at')
        and (known_until > getvariable('eval_at') or known_until is null)

),

clock as (

    select cast(getvariable('eval_at') as timestamp) as judged_at

),

retention as (

    select * from {{ ref('stg_facts__retention') }}

),

{{ runs_judged() }}
