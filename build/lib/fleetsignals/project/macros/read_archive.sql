{#-
    Select the archived columns of one facts source (see archived_columns), or an empty
    relation of the same shape while HOME/facts/<kind>/ holds no file yet.
    SQLFluff (target lint) always sees the read, so lint never depends on a local data home.
-#}
{% macro read_archive(kind) -%}
    {%- set columns = archived_columns(kind) -%}
    {%- if target.name == 'lint' or files_exist(home_path() ~ '/facts/' ~ kind ~ '/*.parquet') %}
    select
        {%- for name, type in columns %}
        cast({{ name }} as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ source('facts', kind) }}
    {%- else %}
    -- No archive yet: {{ source('facts', kind) }} would fail on an empty glob.
    select
        {%- for name, type in columns %}
        cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    where false
    {%- endif %}
{%- endmacro %}
