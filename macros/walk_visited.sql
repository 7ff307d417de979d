{#-
    What keeps a recursive walk up parent links finite on a cycle (untrusted trace data may
    hold one): the walk's `visited_span_ids` column and the condition of its recursive step.
    `part` is 'start' (the column in the walk's first step; `span` is where it starts),
    'step' (the column in the recursive step; `walk` is the recursive CTE's name, `span`
    the column of the span just reached) or 'where' (the step's condition).
    DuckDB: a null list and no condition, since `union` (macro recursive_union) drops rows
    already found. Spark takes only `union all`, so each row carries the spans its walk has
    passed and a walk stops at a span it has been at: the same (walk, span) pairs as
    DuckDB's, where a cycle would otherwise run into spark.sql.cteRecursionLevelLimit and
    fail the build.
-#}
{% macro walk_visited(part, walk='', span='span_id') -%}
    {{ return(adapter.dispatch('walk_visited', 'fleetsignals')(part, walk, span)) }}
{%- endmacro %}

{% macro default__walk_visited(part, walk, span) -%}
    {{ 'true' if part == 'where' else 'cast(null as string[])' }}
{%- endmacro %}

{% macro spark__walk_visited(part, walk, span) -%}
    {%- if part == 'start' -%}
        array({{ span }})
    {%- elif part == 'step' -%}
        array_append({{ walk }}.visited_span_ids, {{ walk }}.{{ span }})
    {%- else -%}
        not array_contains({{ walk }}.visited_span_ids, {{ walk }}.{{ span }})
    {%- endif -%}
{%- endmacro %}
