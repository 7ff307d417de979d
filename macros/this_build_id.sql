{#-
    The id of this build (dbt's invocation id). Rows a build writes carry it, and the
    models of one build find the runs it touched by it. A macro, so unit tests can
    override it. Var `build_id` names another build instead: the Spark build whose
    snapshot DuckDB completes (fleetsignals.warehouse.runner._build_readers).
-#}
{% macro this_build_id() -%}
    {{ return(var('build_id', invocation_id)) }}
{%- endmacro %}
