{#-
    The text at a simple JSONPath (`$[0].trace_id`: indexes and plain member names only)
    of a JSON text value, null when absent. For member names holding dots use
    json_member_text. DuckDB json_extract_string, Spark get_json_object.
-#}
{% macro json_path_text(expression, path) -%}
    {{ return(adapter.dispatch('json_path_text', 'fleetsignals')(expression, path)) }}
{%- endmacro %}

{% macro default__json_path_text(expression, path) -%}
    json_extract_string({{ expression }}, '{{ path }}')
{%- endmacro %}

{% macro spark__json_path_text(expression, path) -%}
    get_json_object({{ expression }}, '{{ path }}')
{%- endmacro %}
