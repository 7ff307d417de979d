{#-
    The lake's spans, one row per (trace_id, span_id), for otel_spans (its `traces` and
    `since`). The same span can land from two files (exporter retries, overlapping
    dumps): the copy landed first is kept (then by source_sha256). Copies share their end
    time, so partitioning by (dt, hr) too keeps partition filters pushed down.

    With `traces` (a build's working set), the window that picks the copy runs only over
    the spans that have one: a narrow count finds those keys, the other spans pass
    through untouched. The window over every span sorted the whole rows (all attribute
    JSON) and was most of int_spans_touched's time (docs/warehouse.md, "Ten thousand
    concurrent runs"). Same rows as the plain window: a key with one row keeps it. The
    view (no `traces`) keeps the single window, which DuckDB pushes a user's filters
    through.
-#}
{% macro deduplicated_spans(traces=none, since=none) -%}
    {%- set kept = "row_number() over (partition by dt, hr, trace_id, span_id"
        ~ " order by landed_at, source_sha256) = 1" %}
    {%- set read -%}
        select *
            from {{ source('lake', 'spans') }}
            where
                {{ lake_partitions_since(since) }}
                {%- if traces is not none %}
                and trace_id in ({{ traces }})
                {%- endif %}
    {%- endset %}
    {%- if traces is none %}
            {{ read }}
            qualify {{ kept }}
    {%- else %}
            with repeated as (
                select dt, hr, trace_id, span_id
                from ({{ read }}) as copies
                group by dt, hr, trace_id, span_id
                having count(*) > 1
            )
            select * from ({{ read }}) as spans
            where not exists (
                select 1 from repeated
                where
                    repeated.dt = spans.dt and repeated.hr = spans.hr
                    and repeated.trace_id = spans.trace_id and repeated.span_id = spans.span_id
            )
            union all
            select * from ({{ read }}) as spans
            where exists (
                select 1 from repeated
                where
                    repeated.dt = spans.dt and repeated.hr = spans.hr
                    and repeated.trace_id = spans.trace_id and repeated.span_id = spans.span_id
            )
            qualify {{ kept }}
    {%- endif %}
{%- endmacro %}
