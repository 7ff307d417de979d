{#- A Python datetime as a SQL timestamp literal (bounds computed at run time become constants). -#}
{% macro ts_literal(moment) -%}
    {%- if moment is none -%}
        cast(null as timestamp)
    {%- else -%}
        timestamp '{{ moment.strftime("%Y-%m-%d %H:%M:%S.%f") }}'
    {%- endif -%}
{%- endmacro %}
