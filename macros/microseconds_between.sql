{#- Whole microseconds from timestamp `start` to timestamp `end` (a bigint). -#}
{% macro microseconds_between(start, end) -%}
    {{ return(adapter.dispatch('microseconds_between', 'fleetsignals')(start, end)) }}
{%- endmacro %}

{% macro default__microseconds_between(start, end) -%}
    date_diff('microsecond', {{ start }}, {{ end }})
{%- endmacro %}

{% macro spark__microseconds_between(start, end) -%}
    timestampdiff(microsecond, {{ start }}, {{ end }})
{%- endmacro %}
