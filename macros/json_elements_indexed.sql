{#-
    Select-list items that unnest a JSON array held as text: one row per element, the
    element's JSON text as `element` and its 0-based position as `offset` (rows whose
    array is empty or null yield none). DuckDB: unnest with generate_subscripts;
    Spark: posexplode of the array parsed with string elements (an object element
    comes back as its JSON text).
-#}
{% macro json_elements_indexed(expression, element, offset) -%}
    {{ return(adapter.dispatch('json_elements_indexed', 'fleetsignals')(expression, element, offset)) }}
{%- endmacro %}

{% macro default__json_elements_indexed(expression, element, offset) -%}
    unnest(cast(json_extract({{ expression }}, '$[*]') as json[])) as {{ element }},
    generate_subscripts(cast(json_extract({{ expression }}, '$[*]') as json[]), 1) - 1 as {{ offset }}
{%- endmacro %}

{% macro spark__json_elements_indexed(expression, element, offset) -%}
    posexplode(from_json({{ expression }}, 'array<string>')) as ({{ offset }}, {{ element }})
{%- endmacro %}
