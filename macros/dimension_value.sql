{#-
    The value of a dimension on one span: the first attribute key of the configured
    mapping (var `dimensions`) that is present. With resource=true only the keys marked
    "resource:" are tried, on the resource attributes; otherwise only the span keys.
    A key may also be a mapping (an attribute vocabulary's conditional key, see
    ingest/vocabulary.py): {key: K, when: {ATTRIBUTE or 'operation': VALUE}, json: MEMBER}
    reads K only when the condition holds, and MEMBER of its JSON value.
    With parsed=true the keys are read from the lists parsed_attribute_values made.
    Changing the mapping and running `build --full-refresh` re-derives all history.
-#}
{% macro dimension_value(dimension, resource=false, parsed=false) -%}
    {%- set keys = var('dimensions')[dimension] -%}
    {%- set column = 'resource_attributes' if resource else 'attributes' -%}
    {%- set picked = [] -%}
    {%- for key in keys -%}
        {%- if key is mapping -%}
            {%- if not resource -%}
                {#- A namespace: a plain `set` inside the loop below would not outlive it. -#}
                {%- set read = namespace(value=attribute_value(column, key['key'], parsed)) -%}
                {%- if key.get('json') -%}
                    {%- set read.value = json_member_text(read.value, key['json'], lenient=true) -%}
                {%- endif -%}
                {%- for when_key, when_value in (key.get('when') or {}).items() -%}
                    {%- set subject = 'operation' if when_key == 'operation'
                        else 'lower(' ~ attribute_value(column, when_key, parsed) ~ ')' -%}
                    {%- set read.value = "case when " ~ subject ~ " = '"
                        ~ (when_value | string | lower | replace("'", "''")) ~ "' then " ~ read.value ~ " end" -%}
                {%- endfor -%}
                {%- do picked.append(read.value) -%}
            {%- endif -%}
        {%- elif key.startswith('resource:') == resource -%}
            {%- do picked.append(attribute_value(column, key[9:] if resource else key, parsed)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if picked | length == 0 -%}
        cast(null as string)
    {%- else -%}
        coalesce(
            {%- for value in picked %}
            {{ value }}{{ "," if not loop.last }}
            {%- endfor %}
        )
    {%- endif -%}
{%- endmacro %}
