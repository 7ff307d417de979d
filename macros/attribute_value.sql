{#-
    One attribute of a span's JSON attribute column as text, '' read as absent.
-#}
{% macro attribute_value(column, key) -%}
    nullif(json_extract_string({{ column }}, {{ json_path_literal(key) }}), '')
{%- endmacro %}
