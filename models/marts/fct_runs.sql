-- One row per run (= trace), in-flight runs included. Status and ended_at are judged at
-- the lake's watermark (latest span end landed, each end counted no later than its
-- landing: int_build_watermarks_recorded), never the wall clock; retention's
-- decision is joined in (null reason and weight 1 while undecided), and the run's current
-- quality labels counted (those current at the build; as_of__fct_runs counts those landed
-- by the evaluation time).

with

runs as (

    select * from {{ ref('int_runs_assembled') }}

),

clock as (

    select watermark_at as judged_at
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

{{ runs_judged() }}
