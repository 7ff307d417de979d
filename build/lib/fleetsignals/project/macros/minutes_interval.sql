{#- An interval of `minutes` (a number, possibly fractional, e.g. a var). -#}
{% macro minutes_interval(minutes) -%}
    to_microseconds(cast({{ minutes }} * 60000000 as bigint))
{%- endmacro %}
