-- One row per run ever seen: where its spans start (bounds the partition scan when it is
-- recomputed) and its publishing partition. Rows stamped with this build's id are the
-- runs this build recomputes ("touched"): runs with spans in the landings this build
-- recorded (int_build_landings_recorded: landed since the last complete build, less
-- those it already read), or every run on a full build. Runs whose spans retention
-- archived come from the archive. On Spark the table is partitioned by part_at, and an
-- incremental build stamps every run of a touched partition (macro
-- runs_of_touched_partitions): the run-keyed tables downstream overwrite whole partitions.
{{ config(unique_key='run_id', partition_by=partitioned_by('part_at')) }}
-- depends_on: {{ ref('stg_otel__spans') }}

{%- set bounds = build_bounds(ref('int_build_watermarks_recorded')) %}
{%- set landings = ref('int_build_landings_recorded') %}
{#- An incremental build reads stg_otel__spans (macros/otel_spans.sql) of the runs with a
    span in this build's landings only: the dedup window skips the other runs' spans. -#}
{%- if is_incremental() and bounds['landed_after'] is not none %}
    {%- set landed_traces = "select trace_id from " ~ source('lake', 'spans') ~ " as spans where "
        ~ lake_partitions_since(bounds['scan_from'])
        ~ " and landed_at > " ~ ts_literal(bounds['landed_after'])
        ~ " and " ~ landing_recorded('spans', landings) %}
    {%- set landed = otel_spans(traces=landed_traces, since=bounds['scan_from']) %}
    {%- set spans_of = "(" ~ landed ~ ") as landed" %}
{%- else %}
    {%- set spans_of = ref('stg_otel__spans') %}
{%- endif %}

with

spans as (

    select
        trace_id as run_id,
        start_at,
        landed_at
    from {{ spans_of }}
    {%- if is_incremental() %}
    where
        {{ lake_partitions_since(bounds['scan_from']) }}
        {%- if bounds['landed_after'] is not none %}
        and {{ landing_recorded('landed', landings) }}
        {%- endif %}
    {%- endif %}

),

archived as (

    select
        run_id,
        part_at,
        started_at
    from {{ ref('stg_facts__runs') }}

),

lake_runs as (

    -- An archived run's remaining spans (a late span after pruning) do not
    -- override its archived facts: the archive is the whole run.
    select
        spans.run_id,
        min(spans.start_at) as first_start_at,
        max(spans.landed_at) as last_landed_at
    from spans
    left join archived on spans.run_id = archived.run_id
    where archived.run_id is null
    group by spans.run_id

),

{%- if is_incremental() %}

merged as (

    -- The publishing partition never moves once given, so a build rewrites only
    -- the partitions of the runs it touched.
    select
        lake_runs.run_id,
        coalesce(previous.part_at, date_trunc('hour', lake_runs.first_start_at)) as part_at,
        least(lake_runs.first_start_at, previous.first_start_at) as first_start_at,
        greatest(lake_runs.last_landed_at, previous.last_landed_at) as last_landed_at,
        false as is_archived
    from lake_runs
    left join {{ this }} as previous on lake_runs.run_id = previous.run_id

),

recomputed as (

    {{ runs_of_touched_partitions('merged', this) }}

),

{%- else %}

    recomputed as (

        select
            run_id,
            date_trunc('hour', first_start_at) as part_at,
            first_start_at,
            last_landed_at,
            false as is_archived
        from lake_runs
        union all
        select
            run_id,
            part_at,
            started_at as first_start_at,
            cast(null as timestamp) as last_landed_at,
            true as is_archived
        from archived

    ),

{%- endif %}

final as (

    select
        *,
        '{{ this_build_id() }}' as build_id
    from recomputed

)

select * from final
