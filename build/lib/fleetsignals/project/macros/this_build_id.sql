{#-
    The id of this build (dbt's invocation id). Rows a build writes carry it, and the
    models of one build find the runs it touched by it. A macro, so unit tests can
    override it.
-#}
{% macro this_build_id() -%}
    {{ return(invocation_id) }}
{%- endmacro %}
