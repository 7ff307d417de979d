{#-
    Milliseconds from timestamp `start` to timestamp `end` (a bigint), as DuckDB's
    date_diff('millisecond') counts them: the difference of the two epoch milliseconds
    (each truncated), not the truncated difference Spark's timestampdiff gives.
-#}
{% macro milliseconds_between(start, end) -%}
    {{ return(adapter.dispatch('milliseconds_between', 'fleetsignals')(start, end)) }}
{%- endmacro %}

{% macro default__milliseconds_between(start, end) -%}
    date_diff('millisecond', {{ start }}, {{ end }})
{%- endmacro %}

{% macro spark__milliseconds_between(start, end) -%}
    (unix_micros({{ end }}) div 1000) - (unix_micros({{ start }}) div 1000)
{%- endmacro %}
