{#- A timestamp (UTC) from integer nanoseconds since the epoch, truncated to microseconds. -#}
{% macro timestamp_from_nanos(nanos) -%}
    {{ return(adapter.dispatch('timestamp_from_nanos', 'fleetsignals')(nanos)) }}
{%- endmacro %}

{% macro default__timestamp_from_nanos(nanos) -%}
    make_timestamp({{ nanos }} // 1000)
{%- endmacro %}

{% macro spark__timestamp_from_nanos(nanos) -%}
    timestamp_micros({{ nanos }} div 1000)
{%- endmacro %}
