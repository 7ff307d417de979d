-- stuck_agent: a run still in flight that repeats one tool call, or has gone quiet.
--
-- In flight at $eval_at (judged from timestamps, so backtests match live evaluation): the
-- run started by then and its root span had not ended by then. Evaluated, fct_runs shows
-- each run as known at $eval_at (its agent_name too: the service's while the root span
-- naming the agent has not landed); on a plain connection it judges `running` and
-- `timeout` at the lake's watermark, and these timestamp conditions keep the same runs:
-- a run that is `ok`/`error` there but ended after $eval_at was in flight at $eval_at,
-- and a run still without a root was too, unless it had already been quiet for
-- stale_after_minutes at $eval_at: the warehouse calls that a
-- `timeout` (a dead run, counted in fct_runs), and this signal stops reporting it there,
-- so a run is never both a stuck alert and a timeout.
-- Only calls that had ended by $eval_at are seen.
--
-- Fires per run when either
--   * repeating: the run's latest tool calls are one tool max_streak times in a row, or the
--     same tool with identical arguments (tool_args_hash) max_identical times in a row (retries
--     of a failed call repeat arguments a few times; a stuck poller does not stop);
--   * quiet: no LLM or tool call has ended for idle_minutes (exporters batch spans, so a
--     minute or two of silence is normal; idle_minutes must be well above that).
-- value = the streak length when repeating, else the minutes since the last call ended.
--
-- Missing data is not silence: "quiet" is measured up to the run's data horizon, the
-- newest span end that had LANDED by $eval_at for the run's services (its least, when a
-- run spans several), not up to $eval_at. When ingest stops or lags, the horizon stops
-- with it and no run looks quiet (data_stale reports the outage once per service); when
-- data flows, the horizon is about $eval_at and a run gone quiet is reported as before.
-- landed_at makes a backtest see what live evaluation saw. A run with no span landed by
-- $eval_at in the last stale_after_minutes (history ingested after the fact) has no
-- horizon: it is judged up to $eval_at.
with

in_flight as (
    select
        run_id,
        agent_name
    from fct_runs
    where
        started_at <= $eval_at
        and not (status in ('ok', 'error') and ended_at <= $eval_at)
        -- Quiet for stale_after_minutes by $eval_at: a timeout, no longer stuck.
        and last_span_at > $eval_at - $stale_after_minutes * interval '1 minute'
),

-- Spans landed by $eval_at that ended in the last stale_after_minutes: enough to know each
-- service's data horizon and the services of every run in flight (a run quiet for longer
-- is past this signal). The dt/hr conditions let DuckDB skip older lake partitions. Read
-- as landed (stg_otel__span_copies), copies included: a newest end and a set of services
-- are the same over a span's copies, and skipping `spans`' deduplication window over
-- every recent span is most of this signal's time at fleet scale.
recent_spans as (
    select
        trace_id,
        service_name,
        end_at
    from stg_otel__span_copies
    where
        (
            dt > cast($eval_at - to_minutes($stale_after_minutes) as date)
            or (
                dt = cast($eval_at - to_minutes($stale_after_minutes) as date)
                and hr >= hour($eval_at - to_minutes($stale_after_minutes))
            )
        )
        and (dt < cast($eval_at as date) or hr <= hour($eval_at))
        and landed_at <= $eval_at
        and end_at <= $eval_at
        and end_at > $eval_at - to_minutes($stale_after_minutes)
),

-- Per service: the newest span end landed by $eval_at.
horizons as (
    select
        service_name,
        max(end_at) as horizon_at
    from recent_spans
    group by service_name
),

run_horizons as (
    select
        recent_spans.trace_id as run_id,
        min(horizons.horizon_at) as horizon_at
    from recent_spans
    inner join in_flight on recent_spans.trace_id = in_flight.run_id
    inner join horizons on recent_spans.service_name = horizons.service_name
    group by recent_spans.trace_id
),

tool_calls as (
    select
        fct_tool_calls.run_id,
        fct_tool_calls.tool_name,
        fct_tool_calls.tool_args_hash,
        fct_tool_calls.started_at,
        fct_tool_calls.ended_at,
        fct_tool_calls.span_id
    from fct_tool_calls
    inner join in_flight on fct_tool_calls.run_id = in_flight.run_id
    where fct_tool_calls.ended_at <= $eval_at
),

activity as (
    select
        run_id,
        max(ended_at) as last_call_at
    from (
        select
            run_id,
            ended_at
        from tool_calls
        union all
        select
            fct_llm_calls.run_id,
            fct_llm_calls.ended_at
        from fct_llm_calls
        inner join in_flight on fct_llm_calls.run_id = in_flight.run_id
        where
            fct_llm_calls.ended_at <= $eval_at
            -- Older calls cannot be the latest of a run that is not yet a timeout.
            and fct_llm_calls.ended_at > $eval_at - $stale_after_minutes * interval '1 minute'
    ) as calls
    group by run_id
),

-- Calls numbered from the latest backwards; a streak is the run of latest calls that match
-- the latest call (gaps and islands: the first mismatch ends it).
ordered as (
    select
        run_id,
        tool_name,
        tool_args_hash,
        row_number() over (partition by run_id order by started_at desc, span_id desc) as back,
        first_value(tool_name) over (
            partition by run_id order by started_at desc, span_id desc
        ) as last_tool,
        first_value(tool_args_hash) over (
            partition by run_id order by started_at desc, span_id desc
        ) as last_args
    from tool_calls
),

streaks as (
    select
        run_id,
        max(last_tool) as tool_name,
        coalesce(min(back) filter (where tool_name != last_tool), max(back) + 1) - 1 as streak,
        coalesce(
            min(back) filter (
                where tool_name != last_tool or tool_args_hash is distinct from last_args
            ),
            max(back) + 1
        ) - 1 as identical,
        bool_and(last_args is not null) as has_args
    from ordered
    group by run_id
),

judged as (
    select
        in_flight.run_id,
        in_flight.agent_name,
        streaks.tool_name,
        coalesce(streaks.streak, 0) as streak,
        case when streaks.has_args then coalesce(streaks.identical, 0) else 0 end as identical,
        date_diff('second', activity.last_call_at, $eval_at) / 60.0 as idle_minutes,
        greatest(
            date_diff('second', activity.last_call_at, coalesce(run_horizons.horizon_at, $eval_at))
            / 60.0,
            0
        ) as confirmed_idle_minutes
    from in_flight
    inner join activity on in_flight.run_id = activity.run_id
    left join streaks on in_flight.run_id = streaks.run_id
    left join run_horizons on in_flight.run_id = run_horizons.run_id
),

final as (
    select
        run_id,
        agent_name,
        tool_name,
        streak,
        identical,
        round(idle_minutes, 1) as idle_minutes,
        case
            when streak >= $max_streak or identical >= $max_identical then streak
            else round(idle_minutes, 1)
        end as value
    from judged
    where
        idle_minutes < $stale_after_minutes
        and (
            streak >= $max_streak
            or identical >= $max_identical
            or confirmed_idle_minutes >= $idle_minutes
        )
)

select * from final
order by run_id
