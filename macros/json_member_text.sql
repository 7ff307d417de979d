{#-
    One member of a JSON text value as text (a nested object or list as its JSON text),
    null when absent. lenient=true also reads null from text that is not JSON (values
    inside attributes are untrusted); on Spark get_json_object is always lenient.
    Dispatched: DuckDB json_extract_string, Spark get_json_object with a bracketed path
    (attribute keys hold dots, which Spark's dotted paths would split).
-#}
{% macro json_member_text(expression, name, lenient=false) -%}
    {{ return(adapter.dispatch('json_member_text', 'fleetsignals')(expression, name, lenient)) }}
{%- endmacro %}

{% macro default__json_member_text(expression, name, lenient) -%}
    {%- if lenient -%}
        json_extract_string(try(json({{ expression }})), {{ json_path_literal(name) }})
    {%- else -%}
        json_extract_string({{ expression }}, {{ json_path_literal(name) }})
    {%- endif -%}
{%- endmacro %}

{% macro spark__json_member_text(expression, name, lenient) -%}
    {#- A double-quoted literal: the profile keeps Spark's literals raw (no '' escape). -#}
    get_json_object({{ expression }}, "$['{{ name | replace("'", "") | replace('"', '') }}']")
{%- endmacro %}
