{#-
    One attribute of a span's JSON attribute column as text, '' read as absent.
    With parsed=true it is read from `<column>_values`, the list that
    parsed_attribute_values(column) extracted with one parse of the JSON.
-#}
{% macro attribute_value(column, key, parsed=false) -%}
    {%- if parsed -%}
        nullif({{ list_item(column ~ '_values', attribute_keys(column).index(key) + 1) }}, '')
    {%- else -%}
        nullif({{ json_member_text(column, key) }}, '')
    {%- endif -%}
{%- endmacro %}

{#-
    Every key of `column` ('attributes' or 'resource_attributes') the configured mapping
    (var `dimensions`) may read, conditions included, in a stable order.
-#}
{% macro attribute_keys(column) -%}
    {%- set resource = column == 'resource_attributes' -%}
    {%- set keys = [] -%}
    {%- for dimension, mapped in var('dimensions').items() -%}
        {%- for key in mapped -%}
            {%- set found = [] -%}
            {%- if key is mapping -%}
                {%- if not resource -%}
                    {%- do found.append(key['key']) -%}
                    {%- for when_key in (key.get('when') or {}) if when_key != 'operation' -%}
                        {%- do found.append(when_key) -%}
                    {%- endfor -%}
                {%- endif -%}
            {%- elif key.startswith('resource:') == resource -%}
                {%- do found.append(key[9:] if resource else key) -%}
            {%- endif -%}
            {%- for name in found if name not in keys -%}
                {%- do keys.append(name) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(keys) }}
{%- endmacro %}
