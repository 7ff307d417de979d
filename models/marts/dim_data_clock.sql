-- The data's "now", one row: the lake's watermark (latest span end landed) as of the
-- last build, the same instant fct_runs judges status at. "The last hour" of data is
-- (watermark_at - interval 1 hour, watermark_at], whatever the wall clock says: a
-- backfill of last month's files reads as the last hour of last month.

with

builds as (

    select
        build_id,
        built_at,
        watermark_at,
        landed_through_at,
        first_landed_at
    from {{ ref('int_build_watermarks_recorded') }}
    order by build_seq desc
    limit 1

),

final as (

    select
        build_id,
        watermark_at,
        landed_through_at,
        first_landed_at,
        built_at
    from builds

)

select * from final
