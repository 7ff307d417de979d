{#- An interval of `minutes` (a number, possibly fractional, e.g. a var), whole microseconds. -#}
{% macro minutes_interval(minutes) -%}
    {{ return(adapter.dispatch('minutes_interval', 'fleetsignals')(minutes)) }}
{%- endmacro %}

{% macro default__minutes_interval(minutes) -%}
    to_microseconds(cast({{ minutes }} * 60000000 as bigint))
{%- endmacro %}

{% macro spark__minutes_interval(minutes) -%}
    make_dt_interval(0, 0, 0, cast(cast({{ minutes }} * 60000000 as bigint) as decimal(18, 6)) / 1000000)
{%- endmacro %}
