{#-
    The values of every attribute_keys(column) of one span, as one list.
    Dispatched: DuckDB reads them with a single parse of the JSON (one
    json_extract_string over a list of paths; one call per key would parse it per key);
    Spark reads each with get_json_object, as attribute_value would.
-#}
{% macro parsed_attribute_values(column) -%}
    {{ return(adapter.dispatch('parsed_attribute_values', 'fleetsignals')(column)) }}
{%- endmacro %}

{% macro default__parsed_attribute_values(column) -%}
    {%- set keys = attribute_keys(column) -%}
    {%- if keys | length == 0 -%}
        cast([] as varchar[])
    {%- else -%}
        json_extract_string({{ column }}, [
            {%- for key in keys -%}
                {{ json_path_literal(key) }}{{ ", " if not loop.last }}
            {%- endfor -%}
        ])
    {%- endif -%}
{%- endmacro %}

{% macro spark__parsed_attribute_values(column) -%}
    {%- set keys = attribute_keys(column) -%}
    {%- if keys | length == 0 -%}
        cast(array() as array<string>)
    {%- else -%}
        array(
            {%- for key in keys -%}
                {{ json_member_text(column, key) }}{{ ", " if not loop.last }}
            {%- endfor -%}
        )
    {%- endif -%}
{%- endmacro %}
