{#-
    The runs an incremental int_runs_indexed recomputes: `merged` (the name of the CTE of
    runs with new spans, rows as int_runs_indexed's less build_id), and on engines whose
    incremental writes replace whole partitions, every other run of their `part_at`
    partitions in `previous` (the table itself), unchanged. Stamped with the build's id
    downstream, those runs are recomputed too, so each run-keyed table's overwrite of a
    touched partition holds all of its runs, not only the touched ones.
    DuckDB deletes and inserts by run_id: the runs with new spans only.
-#}
{% macro runs_of_touched_partitions(merged, previous) -%}
    {{ return(adapter.dispatch('runs_of_touched_partitions', 'fleetsignals')(merged, previous)) }}
{%- endmacro %}

{% macro default__runs_of_touched_partitions(merged, previous) -%}
    select * from {{ merged }}
{%- endmacro %}

{% macro spark__runs_of_touched_partitions(merged, previous) -%}
    select * from {{ merged }}
    union all
    select
        previous.run_id,
        previous.part_at,
        previous.first_start_at,
        previous.last_landed_at,
        previous.is_archived
    from {{ previous }} as previous
    left anti join {{ merged }} on previous.run_id = {{ merged }}.run_id
    where previous.part_at in (select part_at from {{ merged }})
{%- endmacro %}
