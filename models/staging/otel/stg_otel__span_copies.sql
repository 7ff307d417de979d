-- Every landed copy of every span, as landed: no deduplication, no attribute parsing.
-- For queries whose answer copies of a span do not change (the newest end per service,
-- the services of a run) or that deduplicate the few copies themselves: the signals
-- data_stale and stuck_agent read it, so evaluation does not pay stg_otel__spans' window
-- over every span of their hours (docs/shipped-signals.md, "data_stale").
select * from {{ source('lake', 'spans') }}
