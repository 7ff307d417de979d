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

    `split`: the narrow count without a trace filter, for the as-of view of
    stg_otel__spans that evaluation connections read (int_as_of_views_rendered). A
    filter above it reaches the read of the spans without copies (DuckDB pushes it below
    the anti join; exact, a key's only row is kept whatever the window would say), so
    those spans skip the window; only the count reads every partition's keys. It
    counts a hash of the key (one integer, not two strings, to group and join on): a
    collision only sends a span without copies through the window too, which keeps
    it, so the rows stay exact. Anti and semi joins: with `exists` DuckDB kept a
    distinct over every span's key for the correlation.
-#}
{% macro deduplicated_spans(traces=none, since=none, split=false) -%}
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
    {%- if traces is none and not split %}
            {{ read }}
            qualify {{ kept }}
    {%- elif split %}
            with repeated as (
                select hash(dt, hr, trace_id, span_id) as copied
                from ({{ read }}) as copies
                group by copied
                having count(*) > 1
            )
            select spans.* from ({{ read }}) as spans
            anti join repeated
                on repeated.copied = hash(spans.dt, spans.hr, spans.trace_id, spans.span_id)
            union all
            select spans.* from ({{ read }}) as spans
            semi join repeated
                on repeated.copied = hash(spans.dt, spans.hr, spans.trace_id, spans.span_id)
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
