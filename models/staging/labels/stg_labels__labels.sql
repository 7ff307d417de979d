-- One row per landed label (file labels from `fleetsignals label`). Empty until the first
-- label lands.
with

source as (
    {%- if target.name == 'lint' or files_exist(home_path() ~ '/lake/labels/*/*.parquet') %}

        select * from {{ source('labels', 'labels') }}
    {%- else %}

    -- No label file yet: {{ source('labels', 'labels') }} would fail on an empty glob.
    select
        cast(null as string) as label_id,
        cast(null as string) as run_id,
        cast(null as string) as span_id,
        cast(null as string) as name,
        cast(null as double) as score,
        cast(null as string) as label,
        cast(null as string) as source,
        cast(null as timestamp) as given_at,
        cast(null as string) as annotator,
        cast(null as string) as comment,
        cast(null as string) as source_sha256,
        cast(null as bigint) as line,
        cast(null as timestamp) as landed_at
    where false
    {%- endif %}

),

final as (

    select
        label_id,
        run_id,
        span_id,
        name,
        score,
        label,
        source,
        given_at,
        annotator,
        comment,
        landed_at,
        'label_file' as origin,
        source_sha256
    from source

)

select * from final
