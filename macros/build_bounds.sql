{#-
    The bounds of this build, from the row int_build_watermarks_recorded appended for it:
    full (bool), scan_from (datetime or none: oldest lake hour an incremental build
    reads for new spans), landed_after (datetime or none), watermark_at, landed_through
    (the newest landed_at this build saw).
    Read with run_query so they reach SQL as constants (partition pruning needs them).
    Without that row (compiling only, e.g. for the linter) the build counts as full.
    `watermarks` is ref('int_build_watermarks_recorded'), passed in by the calling model so
    dbt's graph sees the dependency (a ref() inside a macro that runs only at execution
    would be hidden from it).
-#}
{% macro build_bounds(watermarks) -%}
    {%- set full = {'full': true, 'scan_from': none, 'landed_after': none, 'watermark_at': none, 'landed_through': none} -%}
    {%- if not execute -%}
        {{ return(full) }}
    {%- endif -%}
    {%- if adapter.get_relation(database=watermarks.database, schema=watermarks.schema, identifier=watermarks.identifier) is none -%}
        {{ return(full) }}
    {%- endif -%}
    {%- set rows = run_query(
        "select is_full_refresh, scan_from_at, landed_after_at, watermark_at, landed_through_at from "
        ~ watermarks ~ " where build_id = '" ~ this_build_id() ~ "'"
    ) -%}
    {%- if rows | length == 0 -%}
        {{ return(full) }}
    {%- endif -%}
    {%- set row = rows[0] -%}
    {{ return({
        'full': row[0], 'scan_from': row[1], 'landed_after': row[2], 'watermark_at': row[3],
        'landed_through': row[4]
    }) }}
{%- endmacro %}
