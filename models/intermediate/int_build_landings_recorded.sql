-- The landings each build reads new spans from: one row per build, landing and run, a
-- landing being the rows of one source landed at one time in one lake hour,
-- (dt, hr, source_sha256, landed_at), and run_id a run with rows in it. Those rows sit
-- in one Parquet file, renamed into the lake at once (ingest/lake.py, ingest/batches.py),
-- so a read that saw a landing saw all of its rows.
-- An incremental build re-reads the spans landed in the overlap before the previous
-- build's newest landing (landed_overlap: a file renamed into the lake while that build
-- ran can carry an older landed_at). Of those it takes only the landings no complete
-- build recorded, so what an earlier build already read is not recomputed; a failed or
-- killed build's landings do not count, so its work is redone. int_runs_indexed reads
-- only this build's rows here: a file renamed in after this model read the lake waits
-- for the next build instead of being half-seen.
-- Recorded means read: the lake is read again after this model (int_runs_indexed,
-- int_spans_touched), and a file can be out of sight for a moment in between (retain
-- swapping its hour). So int_spans_touched's post-hook (macro confirm_landings_recorded)
-- deletes this build's rows of every landing with a run whose rows of it are not in
-- int_spans_touched, the spans this build's facts are computed from: the next build
-- reads those landings again.
-- A full build records the landings in the next build's overlap (after its newest
-- landing minus landed_overlap) without reading them here. Rows at or before a
-- build's landed_after_at are no use to it or later builds: its post-hook prunes them
-- (macro prune_landings_recorded), which keeps the table to about the overlap's landings.
{{ config(unique_key='build_id') }}

{%- set watermarks = ref('int_build_watermarks_recorded') %}
{%- set bounds = build_bounds(watermarks) %}
{%- set overlap = modules.datetime.timedelta(minutes=var('landed_overlap_minutes')) %}
{%- if not bounds['full'] %}
    {%- set landed_after = bounds['landed_after'] %}
{%- elif bounds['landed_through'] is not none %}
    {%- set landed_after = bounds['landed_through'] - overlap %}
{%- else %}
    {%- set landed_after = none %}
{%- endif %}

with

landings as (

    select distinct
        dt,
        hr,
        source_sha256,
        landed_at,
        trace_id as run_id
    from {{ source('lake', 'spans') }}
    where
        {{ lake_partitions_since(bounds['scan_from']) }}
        and landed_at > {{ ts_literal(landed_after) }}

),

{%- if is_incremental() and not bounds['full'] %}

seen as (

    -- Per landing: the confirmation keeps or deletes all of a landing's rows, and the
    -- rows of a warehouse from before run_id have none.
    select distinct
        landings.dt,
        landings.hr,
        landings.source_sha256,
        landings.landed_at
    from {{ this }} as landings
    inner join {{ watermarks }} as builds on landings.build_id = builds.build_id
    where builds.is_complete

),

unseen as (

    select landings.* from landings
    where not exists (
        select 1 from seen
        where
            seen.dt = landings.dt
            and seen.hr = landings.hr
            and seen.source_sha256 = landings.source_sha256
            and seen.landed_at = landings.landed_at
    )

),

{%- else %}

    unseen as (

        select * from landings

    ),

{%- endif %}

final as (

    select
        '{{ this_build_id() }}' as build_id,
        dt,
        hr,
        source_sha256,
        landed_at,
        run_id
    from unseen

)

select * from final
