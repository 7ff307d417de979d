-- The SQL of the as-of views that need the models' rules, one row per relation, rendered
-- by this build (its dimension mapping, its stale_after): evaluation connections create
-- them (fleetsignals.sandbox). fct_runs as of $eval_at re-derives the runs in flight then
-- by the same macros as int_runs_assembled and fct_runs (macros/runs_as_of_select.sql);
-- fct_runs_reassembled is the part it stores once per $eval_at, the runs in flight then.

with

final as (

    select
        'fct_runs' as relation_name,
        '{{ runs_as_of_select() | replace("'", "''") }}' as select_sql
    union all
    select
        'fct_runs_reassembled' as relation_name,
        '{{ runs_as_of_reassembled() | replace("'", "''") }}' as select_sql

)

select * from final
