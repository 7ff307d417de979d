{#-
    The earliest start of the runs this build recomputes (int_runs_indexed rows stamped
    with this invocation), or none on a full build. Spans of those runs can only sit in
    lake partitions at or after it, so it bounds the partition scan.
    The relations are passed in (see build_bounds): `watermarks` is
    ref('int_build_watermarks_recorded'), `runs_indexed` is ref('int_runs_indexed').
-#}
{% macro touched_runs_since(watermarks, runs_indexed) -%}
    {%- set bounds = build_bounds(watermarks) -%}
    {%- if bounds['full'] -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set rows = run_query(
        "select min(first_start_at) from " ~ runs_indexed
        ~ " where build_id = '" ~ this_build_id() ~ "'"
    ) -%}
    {%- set earliest = rows[0][0] -%}
    {#- Nothing touched: a partition after every span keeps the scan empty. -#}
    {{ return(earliest if earliest is not none else bounds['watermark_at']) }}
{%- endmacro %}
