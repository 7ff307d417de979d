{#-
    Select the archived columns of one facts source (see archived_columns), or an empty
    relation of the same shape while HOME/facts/<kind>/ holds no file yet.
    A renamed column reads its former name too: the files are unioned by name with an
    empty relation holding both names, so a file with either (or both, across files) reads.
    An added column (former name none) is in that empty relation alone: older files read null.
    SQLFluff (target lint) always sees the read, so lint never depends on a local data home.
-#}
{% macro read_archive(kind) -%}
    {%- set columns = archived_columns(kind) -%}
    {%- set renamed = [] -%}
    {%- for column in columns if column | length > 2 -%}
        {%- do renamed.append(column) -%}
    {%- endfor -%}
    {%- if target.name == 'lint' or files_exist(home_path() ~ '/facts/' ~ kind ~ '/*.parquet') %}
    select
        {%- for column in columns %}
            {%- if column | length > 2 and column[2] %}
        cast(coalesce({{ column[0] }}, {{ column[2] }}) as {{ column[1] }}) as {{ column[0] }}
            {%- else %}
        cast({{ column[0] }} as {{ column[1] }}) as {{ column[0] }}
            {%- endif %}{{ "," if not loop.last }}
        {%- endfor %}
    from (
        {%- if renamed %}
        select
            {%- for column in renamed %}
            cast(null as {{ column[1] }}) as {{ column[0] }}
            {%- if column[2] %},
            cast(null as {{ column[1] }}) as {{ column[2] }}
            {%- endif %}{{ "," if not loop.last }}
            {%- endfor %}
        where false
        union all by name
        {%- endif %}
        select * from {{ source('facts', kind) }}
    )
    {%- else %}
    -- No archive yet: {{ source('facts', kind) }} would fail on an empty glob.
    select
        {%- for column in columns %}
        cast(null as {{ column[1] }}) as {{ column[0] }}{{ "," if not loop.last }}
        {%- endfor %}
    where false
    {%- endif %}
{%- endmacro %}
