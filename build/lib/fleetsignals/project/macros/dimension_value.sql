{#-
    The value of a dimension on one span: the first attribute key of the configured
    mapping (var `dimensions`) that is present. With resource=true only the keys marked
    "resource:" are tried, on the resource attributes; otherwise only the span keys.
    Changing the mapping and running `build --full-refresh` re-derives all history.
-#}
{% macro dimension_value(dimension, resource=false) -%}
    {%- set keys = var('dimensions')[dimension] -%}
    {%- set column = 'resource_attributes' if resource else 'attributes' -%}
    {%- set picked = [] -%}
    {%- for key in keys -%}
        {%- if key.startswith('resource:') == resource -%}
            {%- do picked.append(key[9:] if resource else key) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if picked | length == 0 -%}
        cast(null as varchar)
    {%- else -%}
        coalesce(
            {%- for key in picked %}
            nullif(json_extract_string({{ column }}, '$."{{ key | replace("'", "''") | replace('"', '') }}"'), ''){{ "," if not loop.last }}
            {%- endfor %}
        )
    {%- endif -%}
{%- endmacro %}
