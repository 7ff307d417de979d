-- The rolling-window ends this build (re)computes: 5-minute steps up to the watermark,
-- only where some run was active (see `activity`). One row per window_end_at.
with

runs as (

    select * from {{ ref('fct_runs') }}

),

builds as (

    select * from {{ ref('int_build_watermarks_recorded') }}

),

assembled as (

    select * from {{ ref('int_runs_assembled') }}

),

recomputed as (

    -- What this build's windows must cover: up to the watermark, and from the earliest of
    -- the previous complete build's watermark (runs may have entered later windows by
    -- timing out) and the start of any run this build recomputed (its old and new ends lie
    -- after it). A full build has no previous build (its watermark row is rebuilt too) and
    -- recomputes every run, so `least`, which skips a null, gives the earliest start.
    select
        this_build.watermark_at,
        least(
            (
                select max(previous.watermark_at) from builds as previous
                where previous.build_seq < this_build.build_seq and previous.is_complete
            ),
            (
                select min(assembled.started_at) from assembled
                where assembled.build_id = '{{ this_build_id() }}'
            )
        ) as recomputed_after
    from builds as this_build
    where this_build.build_id = '{{ this_build_id() }}'

),

bounds as (

    -- The window ends this build (re)computes, on the 5-minute grid: the last is the
    -- watermark floored (a later window would be incomplete); the first is recomputed_after
    -- rounded up (an instant exactly on the grid ends its own first window).
    select
        {{ timestamp_floor('watermark_at', 5) }} as last_end,
        {{ timestamp_floor('recomputed_after - interval 1 microsecond', 5) }} + interval 5 minute as first_end
    from recomputed

),

activity as (

    -- Steps worth a window: from a run's start until a day after it can last enter one
    -- (zeros included, so a fleet that stops is visible for a day), not the empty years
    -- between an old file and today's data.
    select
        coalesce(started_at, last_span_at) as active_from,
        last_span_at + {{ minutes_interval(var('stale_after_minutes')) }}
        + interval 25 hour as active_to
    from runs

),

reaches as (

    select
        activity.active_from,
        activity.active_to,
        max(activity.active_to) over (
            order by activity.active_from rows between unbounded preceding and 1 preceding
        ) as reached_before
    from activity
    cross join bounds
    where
        activity.active_from <= bounds.last_end
        and activity.active_to >= bounds.first_end

),

islands as (

    -- Overlapping activity merges into islands (a new one where a run starts after all
    -- earlier ones' reach).
    select
        active_from,
        active_to,
        sum(case when reached_before is null or active_from > reached_before then 1 else 0 end)
            over (order by active_from rows unbounded preceding)
            as island
    from reaches

),

island_spans as (

    select
        greatest(min(islands.active_from), any_value(bounds.first_end)) as span_from,
        least(max(islands.active_to), any_value(bounds.last_end)) as span_to
    from islands
    cross join bounds
    group by islands.island

),

final as (

    -- 5-minute steps of each island (rounded up to the grid), within this build's bounds.
    select distinct
        {{ timestamp_series(
            timestamp_floor('span_from - interval 1 microsecond', 5) ~ ' + interval 5 minute',
            'span_to',
            5
        ) }} as window_end_at
    from island_spans
    where span_from <= span_to

)

select * from final
