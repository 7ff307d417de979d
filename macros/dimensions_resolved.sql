{#-
    A select list over stg_otel__spans that resolves every run dimension to its span
    value, else its resource value, and drops the resource_<dimension> columns:
    `select {{ dimensions_resolved() }} from spans` (what the `spans` table shows).
-#}
{% macro dimensions_resolved() -%}
    * exclude (
        {%- for dimension in run_dimensions() %}
            resource_{{ dimension }}{{ "," if not loop.last }}
        {%- endfor %}
    )
    replace (
        {%- for dimension in run_dimensions() %}
            coalesce({{ dimension }}, resource_{{ dimension }}) as {{ dimension }}{{ "," if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}
