{#-
    The wall clock now, as a naive UTC timestamp. Only bookkeeping reads it (when a build
    ran): data are judged at the lake's watermark, never at the wall clock.
-#}
{% macro utc_now() -%}
    {{ return(adapter.dispatch('utc_now', 'fleetsignals')()) }}
{%- endmacro %}

{% macro default__utc_now() -%}
    cast(timezone('UTC', now()) as timestamp)
{%- endmacro %}

{#- The Spark target's session time zone is UTC (profiles.yml). -#}
{% macro spark__utc_now() -%}
    cast(current_timestamp() as timestamp_ntz)
{%- endmacro %}
