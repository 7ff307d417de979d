-- Rolling quality windows: at every 5-minute step T while labels arrive, the labels that
-- landed in (T - 60m, T] and were current at T (not yet superseded), per dimension value
-- and fleet-wide: mean score, bad-label share, label delay; and the label coverage of the
-- runs that ended in the window (share with a label landed by T). Built only from what had
-- landed by T, so a query at T reads `window_end_at <= $eval_at` and sees what was known.
-- Grain: (window_end_at, dimension, dimension_value, name, source).
{%- set dimensions = window_dimensions() + ['model'] %}

with

labels as (

    select * from {{ ref('fct_labels') }}

),

runs as (

    select * from {{ ref('fct_runs') }}

),

grid as (

    select
        {{ timestamp_series(
            timestamp_floor('min(landed_at) - interval 1 microsecond', 5) ~ ' + interval 5 minute',
            timestamp_floor('max(landed_at)', 5) ~ ' + interval 60 minute',
            5
        ) }} as window_end_at
    from labels

),

label_keys as (

    select
        *,
        'fleet' as dimension,
        'all' as dimension_value
    from labels
    where has_run
    {%- for dimension in dimensions %}
        union all
        select
            *,
            '{{ dimension }}' as dimension,
            coalesce({{ dimension }}, '(none)') as dimension_value
        from labels
        where has_run
    {%- endfor %}

),

label_windows as (

    select
        grid.window_end_at,
        label_keys.*
    from label_keys
    inner join grid
        on
            label_keys.landed_at <= grid.window_end_at
            and grid.window_end_at < label_keys.landed_at + interval 60 minute
            and (label_keys.superseded_at is null or label_keys.superseded_at > grid.window_end_at)

),

label_stats as (

    select
        window_end_at,
        dimension,
        dimension_value,
        name,
        source,
        count(*) as label_count,
        count(score) as scored_label_count,
        avg(score) as mean_score,
        count(*) filter (where is_bad) as bad_label_count,
        cast(count(*) filter (where is_bad) as double) / count(*) as bad_label_share,
        {{ percentiles_cont('label_delay_ms', [0.5, 0.95]) }} as label_delay_ms_quantiles
    from label_windows
    group by window_end_at, dimension, dimension_value, name, source

),

ended_runs as (

    select
        run_id,
        {%- for dimension in dimensions %}
            {{ dimension }},
        {%- endfor %}
        coalesce(ended_at, timed_out_at) as ended_at
    from runs
    where
        status != 'running'
        and coalesce(ended_at, timed_out_at) > (select min(grid.window_end_at) from grid) - interval 60 minute

),

run_keys as (

    select
        run_id,
        ended_at,
        'fleet' as dimension,
        'all' as dimension_value
    from ended_runs
    {%- for dimension in dimensions %}
        union all
        select
            run_id,
            ended_at,
            '{{ dimension }}' as dimension,
            coalesce({{ dimension }}, '(none)') as dimension_value
        from ended_runs
    {%- endfor %}

),

first_labels as (

    select
        run_id,
        name,
        source,
        min(landed_at) as first_landed_at
    from labels
    group by run_id, name, source

),

score_names as (

    select distinct
        name,
        source
    from first_labels

),

coverage as (

    -- Per score name and source: of the runs that ended in the window, those with such a
    -- label landed by the window's end.
    select
        grid.window_end_at,
        run_keys.dimension,
        run_keys.dimension_value,
        names.name,
        names.source,
        count(*) as ended_run_count,
        count(first_labels.run_id) as labelled_run_count
    from run_keys
    inner join grid
        on
            run_keys.ended_at <= grid.window_end_at
            and grid.window_end_at < run_keys.ended_at + interval 60 minute
    cross join score_names as names
    left join first_labels
        on
            run_keys.run_id = first_labels.run_id
            and names.name = first_labels.name
            and names.source = first_labels.source
            and grid.window_end_at >= first_labels.first_landed_at
    group by grid.window_end_at, run_keys.dimension, run_keys.dimension_value, names.name, names.source

),

final as (

    select
        coalesce(label_stats.window_end_at, coverage.window_end_at) as window_end_at,
        coalesce(label_stats.window_end_at, coverage.window_end_at) - interval 60 minute as window_start_at,
        coalesce(label_stats.dimension, coverage.dimension) as dimension,
        coalesce(label_stats.dimension_value, coverage.dimension_value) as dimension_value,
        coalesce(label_stats.name, coverage.name) as name,
        coalesce(label_stats.source, coverage.source) as source,
        coalesce(label_stats.label_count, 0) as label_count,
        coalesce(label_stats.scored_label_count, 0) as scored_label_count,
        label_stats.mean_score,
        coalesce(label_stats.bad_label_count, 0) as bad_label_count,
        label_stats.bad_label_share,
        coalesce(coverage.ended_run_count, 0) as ended_run_count,
        coalesce(coverage.labelled_run_count, 0) as labelled_run_count,
        cast(coverage.labelled_run_count as double) / nullif(coverage.ended_run_count, 0) as label_coverage,
        {{ list_item('label_stats.label_delay_ms_quantiles', 1) }} as label_delay_ms_p50,
        {{ list_item('label_stats.label_delay_ms_quantiles', 2) }} as label_delay_ms_p95
    from label_stats
    full outer join coverage
        on
            label_stats.window_end_at = coverage.window_end_at
            and label_stats.dimension = coverage.dimension
            and label_stats.dimension_value = coverage.dimension_value
            and label_stats.name = coverage.name
            and label_stats.source = coverage.source

)

select * from final
