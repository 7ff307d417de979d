-- data_stale: a service whose spans stopped arriving (Grafana's NoData, per service).
--
-- As of $eval_at, from what had LANDED by then (`landed_at <= $eval_at`): live, spans that
-- have not landed are not in the table; in a backtest landed_at hides them the same way,
-- so a backtest over an ingest outage shows the outage. A service is watched once it has
-- landed spans that ended in the last watch_hours; its data age is the time since the
-- newest of them ended. It is stale when that age is at least stale_minutes and at least
-- gap_factor times the service's usual gap between spans (its watch window divided by its
-- span count), so a service that sends a span every twenty minutes is not stale after ten.
-- History ingested after the fact (a backfill) had not landed at $eval_at: nothing is
-- watched there, and the signal stays silent in backtests of such data.
--
-- Reads stg_otel__span_copies, the lake as landed, and deduplicates only the keys landed
-- twice: the same rows as `spans`, without its window over every span of 24 hours (the
-- bulk of this signal's time at fleet scale).
--
-- One instance per service (label service_name); value = data age in minutes.
with

-- What had landed by $eval_at in the window's lake partitions (dt/hr: DuckDB skips the
-- others), every copy of a span as landed: the spans' own end filters come after
-- deduplication, as on `spans`.
copies as (
    select
        dt,
        hr,
        trace_id,
        span_id,
        service_name,
        end_at,
        landed_at,
        source_sha256
    from stg_otel__span_copies
    where
        (
            dt > cast($eval_at - to_hours($watch_hours) as date)
            or (
                dt = cast($eval_at - to_hours($watch_hours) as date)
                and hr >= hour($eval_at - to_hours($watch_hours))
            )
        )
        and (dt < cast($eval_at as date) or hr <= hour($eval_at))
        and landed_at <= $eval_at
),

-- The keys landed more than once (exporter retries, overlapping dumps): a count over a
-- number per key, far cheaper than ordering every span; a hash collision only adds a key
-- to deduplicate.
repeated as (
    select hash(dt, hr, trace_id, span_id) as key_hash
    from copies
    group by key_hash
    having count(*) > 1
),

-- One row per span, its first landed copy, as `spans` keeps it: the others pass as they
-- are, and only the copies of repeated keys are ordered.
spans as (
    select * from copies
    where hash(dt, hr, trace_id, span_id) not in (select repeated.key_hash from repeated)
    union all
    select * from copies
    where hash(dt, hr, trace_id, span_id) in (select repeated.key_hash from repeated)
    qualify
        row_number() over (
            partition by dt, hr, trace_id, span_id order by landed_at, source_sha256
        ) = 1
),

landed as (
    select
        service_name,
        max(end_at) as newest_end_at,
        max(landed_at) as last_landed_at,
        count(*) as span_count,
        date_diff('second', min(end_at), max(end_at)) / 60.0 as spread_minutes
    from spans
    where
        end_at <= $eval_at
        and end_at > $eval_at - to_hours($watch_hours)
        and service_name is not null
    group by service_name
),

judged as (
    select
        service_name,
        date_diff('second', newest_end_at, $eval_at) / 60.0 as data_age_minutes,
        date_diff('second', last_landed_at, $eval_at) / 60.0 as landed_minutes_ago,
        -- The usual gap: the window the spans cover, over their count.
        spread_minutes / greatest(span_count - 1, 1) as usual_gap_minutes
    from landed
    where span_count >= $min_spans
),

final as (
    select
        service_name,
        usual_gap_minutes,
        round(data_age_minutes, 1) as value,
        round(landed_minutes_ago, 1) as landed_minutes_ago
    from judged
    where
        data_age_minutes >= $stale_minutes
        and data_age_minutes >= $gap_factor * usual_gap_minutes
)

select * from final
order by service_name
