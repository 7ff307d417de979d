{#-
    on-run-end: mark this build's watermark row complete when every node succeeded.
    An incremental build starts from the last complete build, so a build that failed
    or was killed half-way is simply done again (its spans are re-read).
-#}
{% macro mark_build_complete(results) -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set failed = results | selectattr('status', 'in', ['error', 'fail', 'skipped', 'runtime error']) | list -%}
    {%- set relation = adapter.get_relation(database=target.database, schema=target.schema, identifier='int_build_watermarks_recorded') -%}
    {%- if failed | length > 0 or relation is none -%}
        {{ return('') }}
    {%- endif -%}
    {{ return(adapter.dispatch('mark_build_complete', 'fleetsignals')(relation)) }}
{%- endmacro %}

{% macro default__mark_build_complete(relation) -%}
    {#- A Spark snapshot's watermark rows are a view over Spark's Parquet: nothing to mark. -#}
    {%- if relation.is_table -%}
        update {{ relation }} set is_complete = true where build_id = '{{ this_build_id() }}'
    {%- endif -%}
{%- endmacro %}

{#-
    Spark: Parquet takes no update, so the build's watermark row, a partition of its own
    (int_build_watermarks_recorded is partitioned by build_id there), is overwritten with
    the same row marked complete. A partitioned table may be overwritten from itself
    (dynamic partition overwrite); an unpartitioned one may not.
-#}
{% macro spark__mark_build_complete(relation) -%}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | reject('equalto', 'build_id') | list -%}
    {%- do run_query('set spark.sql.sources.partitionOverwriteMode = DYNAMIC') -%}
    insert overwrite table {{ relation }} partition (build_id)
    select
        {%- for column in columns %}
        {{ 'true as is_complete' if column == 'is_complete' else column }},
        {%- endfor %}
        build_id
    from {{ relation }}
    where build_id = '{{ this_build_id() }}'
{%- endmacro %}
