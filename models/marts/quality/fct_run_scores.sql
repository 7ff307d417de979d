-- One row per run, score name and label source: the current label (the latest given; see
-- fct_labels), with how many labels that key has had. As of the last build: signals that
-- judge at T read fct_labels with landed_at <= T instead.
with

labels as (

    select * from {{ ref('fct_labels') }}

),

counted as (

    select
        *,
        count(*) over (partition by run_id, name, source) as label_count
    from labels

),

final as (

    select
        run_id,
        name,
        source,
        score,
        label,
        is_bad,
        given_at,
        landed_at,
        label_count,
        has_run,
        {%- for dimension in run_dimensions() %}
            {{ dimension }},
        {%- endfor %}
        model,
        label_delay_ms,
        label_id
    from counted
    where not is_superseded

)

select * from final
