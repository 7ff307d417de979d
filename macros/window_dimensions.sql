{#-
    The dimensions the rolling-window marts group by (var `window_dimensions`, from
    fleetsignals.contract): the low-cardinality run dimensions, one window row per value.
-#}
{% macro window_dimensions() -%}
    {{ return(var('window_dimensions') | list) }}
{%- endmacro %}
