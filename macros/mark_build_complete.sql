{#-
    on-run-end: mark this build's watermark row complete when every node succeeded.
    An incremental build starts from the last complete build, so a build that failed
    or was killed half-way is simply done again (its spans are re-read).
-#}
{% macro mark_build_complete(results) -%}
    {{ return(adapter.dispatch('mark_build_complete', 'fleetsignals')(results)) }}
{%- endmacro %}

{% macro default__mark_build_complete(results) -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set failed = results | selectattr('status', 'in', ['error', 'fail', 'skipped', 'runtime error']) | list -%}
    {%- set relation = adapter.get_relation(database=target.database, schema=target.schema, identifier='int_build_watermarks_recorded') -%}
    {#- A Spark snapshot's watermark rows are a view over Spark's Parquet: nothing to mark. -#}
    {%- if failed | length == 0 and relation is not none and relation.is_table -%}
        update {{ relation }} set is_complete = true where build_id = '{{ this_build_id() }}'
    {%- endif -%}
{%- endmacro %}

{#-
    Spark builds are full refreshes for now (Parquet tables take no update, and no build
    starts from a previous one), so there is nothing to mark.
-#}
{% macro spark__mark_build_complete(results) -%}
    {{ return('') }}
{%- endmacro %}
