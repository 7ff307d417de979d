-- One row per build: the lake's watermark (latest span end landed) and the bounds an
-- incremental build reads new spans within. Appended each build; downstream models read
-- the row of their own invocation (macro build_bounds). A build starts from the last
-- build marked complete (on-run-end), so a failed or killed build is redone.
-- Trace producers are untrusted: a span counts towards the watermark with its end, but
-- never later than the time it landed (a span cannot end after it was received, short
-- of a wrong clock). So no span can move the watermark, or the scan window derived from
-- it, past the landing clock: one span from year 2200 would otherwise freeze every
-- later increment (its window starting in 2200) and judge every rootless run timed out.
-- first_landed_at, the earliest landing the home has seen, is carried from build to build:
-- before it nothing had landed, so signals evaluated then see spans from their end
-- (fleetsignals.sandbox, "as of $eval_at").
-- On Spark each build's row is a partition of its own, so on-run-end can mark it complete
-- by overwriting that partition (macro mark_build_complete): Parquet takes no update.
{{ config(unique_key='build_id', partition_by=partitioned_by('build_id')) }}

{%- set previous = none -%}
{%- if is_incremental() and execute -%}
    {#- A table from before first_landed_at gains the column (on_schema_change), null. -#}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {%- set rows = run_query(
        "select (select max(build_seq) from " ~ this ~ "), watermark_at, landed_through_at, "
        ~ ("(select min(first_landed_at) from " ~ this ~ ")" if 'first_landed_at' in columns
            else "cast(null as timestamp)")
        ~ " from " ~ this ~ " where is_complete order by build_seq desc limit 1"
    ) -%}
    {%- if rows | length > 0 and rows[0][1] is not none -%}
        {%- set previous = rows[0] -%}
    {%- endif -%}
{%- endif -%}
{%- if previous is not none -%}
    {%- set scan_from = previous[1] - modules.datetime.timedelta(minutes=var('lookback_minutes')) -%}
    {%- set landed_after = previous[2] - modules.datetime.timedelta(minutes=var('landed_overlap_minutes')) -%}
{%- else -%}
    {%- set scan_from = none -%}
    {%- set landed_after = none -%}
{%- endif %}

with

-- Each span counts as the copy stg_otel__spans keeps (the first landed, then the least
-- source_sha256; ingest stamps both on every row): a later copy may carry another end
-- and a later landing, so a maximum over the copies would differ. Two group-bys find
-- that copy's values without stg_otel__spans' window over every row of the scan
-- (0.75x the CPU on a replayed 10k-run build; tests/models/test_watermark.py lands
-- conflicting copies).
copies_landed as (

    select
        dt,
        hr,
        trace_id,
        span_id,
        landed_at,
        {{ value_at_min('least(end_at, landed_at)', 'source_sha256') }} as counted_end_at
    from {{ ref('stg_otel__span_copies') }}
    where {{ lake_partitions_since(scan_from) }}
    group by dt, hr, trace_id, span_id, landed_at

),

spans as (

    select
        {{ value_at_min('counted_end_at', 'landed_at') }} as counted_end_at,
        min(landed_at) as landed_at
    from copies_landed
    group by dt, hr, trace_id, span_id

),

final as (

    select
        '{{ this_build_id() }}' as build_id,
        {{ previous[0] + 1 if previous is not none else 1 }} as build_seq,
        {{ utc_now() }} as built_at,
        {{ 'false' if previous is not none else 'true' }} as is_full_refresh,
        coalesce(max(counted_end_at), {{ ts_literal(previous[1] if previous is not none else none) }}) as watermark_at,
        coalesce(max(landed_at), {{ ts_literal(previous[2] if previous is not none else none) }}) as landed_through_at,
        least(min(landed_at), {{ ts_literal(previous[3] if previous is not none else none) }}) as first_landed_at,
        {{ ts_literal(scan_from) }} as scan_from_at,
        {{ ts_literal(landed_after) }} as landed_after_at,
        false as is_complete
    from spans

)

select * from final
