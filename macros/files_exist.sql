{#-
    Whether a glob matches any file (a read over an empty glob is an error in DuckDB).
    Spark SQL cannot list files: `fleetsignals build --engine spark` lists the globs the
    project reads and passes the ones that match as var `present_files`.
-#}
{% macro files_exist(pattern) -%}
    {{ return(adapter.dispatch('files_exist', 'fleetsignals')(pattern)) }}
{%- endmacro %}

{% macro default__files_exist(pattern) -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set found = run_query("select count(*) from glob('" ~ pattern ~ "')") -%}
    {{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}

{% macro spark__files_exist(pattern) -%}
    {%- set listed = var('listed_globs', []) -%}
    {%- if execute and pattern not in listed -%}
        {{ exceptions.raise_compiler_error(
            "the Spark build was not told whether " ~ pattern ~ " has files: run it with"
            ~ " `fleetsignals build --engine spark`, which lists them (var listed_globs)") }}
    {%- endif -%}
    {{ return(pattern in var('present_files', [])) }}
{%- endmacro %}
