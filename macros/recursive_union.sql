{#-
    The set operator joining a recursive CTE's steps. DuckDB: `union`, which drops rows
    already found and so ends a walk over a cycle (untrusted parent links may hold one).
    Spark takes only `union all` there, so a walk on Spark ends a cycle itself (macro
    walk_visited).
-#}
{% macro recursive_union() -%}
    {{ return(adapter.dispatch('recursive_union', 'fleetsignals')()) }}
{%- endmacro %}

{% macro default__recursive_union() -%}
    union
{%- endmacro %}

{% macro spark__recursive_union() -%}
    union all
{%- endmacro %}
