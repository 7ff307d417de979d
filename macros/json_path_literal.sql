{#-
    The JSON path of one member, '$."name"', as a SQL string literal (quotes in the name
    dropped, as attribute keys never hold them).
-#}
{% macro json_path_literal(name) -%}
    '$."{{ name | replace("'", "''") | replace('"', '') }}"'
{%- endmacro %}
