{#-
    Select-list item that yields one row per timestamp from `start` to `stop` (both
    included) in steps of `minutes` (an integer); none when `start` is after `stop`.
    Dispatched: DuckDB unnests generate_series; Spark explodes sequence, which fails on a
    start after the stop instead of returning nothing, hence the guard.
-#}
{% macro timestamp_series(start, stop, minutes) -%}
    {{ return(adapter.dispatch('timestamp_series', 'fleetsignals')(start, stop, minutes)) }}
{%- endmacro %}

{% macro default__timestamp_series(start, stop, minutes) -%}
    unnest(generate_series({{ start }}, {{ stop }}, interval {{ minutes }} minute))
{%- endmacro %}

{% macro spark__timestamp_series(start, stop, minutes) -%}
    explode(
        if(
            {{ start }} <= {{ stop }},
            sequence({{ start }}, {{ stop }}, interval {{ minutes }} minute),
            array()
        )
    )
{%- endmacro %}
