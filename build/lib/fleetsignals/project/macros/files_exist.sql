{#- Whether a glob matches any file (a read over an empty glob is an error in DuckDB). -#}
{% macro files_exist(pattern) -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set found = run_query("select count(*) from glob('" ~ pattern ~ "')") -%}
    {{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}
