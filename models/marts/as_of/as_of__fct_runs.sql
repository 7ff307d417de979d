-- fct_runs as known at the evaluation time (the DuckDB variable eval_at, which signal
-- evaluation sets and binds fct_runs to this view): each run's version known then
-- (fct_run_versions), judged at eval_at. A run none of whose spans was known by then
-- is absent. Retention's decision is the current one (it is not a span-derived value);
-- quality labels count as landed by eval_at.

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

run_labels as (

    -- Quality labels current at eval_at: landed by then and not yet superseded.
    select
        run_id,
        count(*) as label_count,
        count(*) filter (where is_bad) as bad_label_count
    from {{ ref('fct_labels') }}
    where
        landed_at <= getvariable('eval_at')
        and (superseded_at > getvariable('eval_at') or superseded_at is null)
    group by run_id

),

{{ runs_judged() }}
