{#-
    One attribute of a span's JSON attribute column as text, '' read as absent.
-#}
{% macro attribute_value(column, key) -%}
    nullif({{ json_member_text(column, key) }}, '')
{%- endmacro %}
