{#-
    A filter on the lake's hive partition columns (dt, hr) keeping the hours at or after
    `moment` (a Python datetime or None for all). Written as constants over dt and hr
    only, so DuckDB prunes whole files without opening them.
-#}
{% macro lake_partitions_since(moment) -%}
    {%- if moment is none -%}
        true
    {%- else -%}
        (dt > date '{{ moment.strftime("%Y-%m-%d") }}' or (dt = date '{{ moment.strftime("%Y-%m-%d") }}' and hr >= {{ moment.hour }}))
    {%- endif -%}
{%- endmacro %}
