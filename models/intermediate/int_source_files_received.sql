-- One row per source file landed: when its spans were received, as far as the data can
-- tell. A file lands whole (ingest waits until it has settled), so none of its spans was
-- known before the file was complete, and it cannot have been complete before its
-- latest span ended. Hence received_at = the file's latest span end, but never later
-- than the time it landed (trace producers are untrusted: a span from year 2200 must not
-- hide its file). A span is known from greatest(end_at, received_at) (int_spans_touched):
-- a root exported late, in a later file, is known when that file was, as live evaluation
-- saw it. Times are the data's own, so history ingested after the fact replays as it
-- happened (landed_at alone would make every backfilled span known only today).
{{ config(unique_key='source_sha256') }}

{%- set bounds = build_bounds(ref('int_build_watermarks_recorded')) %}

with

spans as (

    select
        source_sha256,
        end_at,
        landed_at
    from {{ ref('stg_otel__spans') }}
    {%- if is_incremental() %}
    where
        {{ lake_partitions_since(bounds['scan_from']) }}
        {%- if bounds['landed_after'] is not none %}
        and landed_at > {{ ts_literal(bounds['landed_after']) }}
        {%- endif %}
    {%- endif %}

),

files as (

    select
        source_sha256,
        max(end_at) as last_end_at,
        min(landed_at) as landed_at
    from spans
    group by source_sha256

),

{%- if is_incremental() %}

merged as (

    -- A file read again (the landed overlap) keeps what it was first known by: its latest
    -- span end can only grow by spans the earlier build did not scan.
    select
        files.source_sha256,
        greatest(files.last_end_at, previous.last_end_at) as last_end_at,
        least(files.landed_at, previous.landed_at) as landed_at
    from files
    left join {{ this }} as previous on files.source_sha256 = previous.source_sha256

),

{%- else %}

    merged as (

        select * from files

    ),

{%- endif %}

final as (

    select
        source_sha256,
        last_end_at,
        landed_at,
        least(last_end_at, landed_at) as received_at
    from merged

)

select * from final
