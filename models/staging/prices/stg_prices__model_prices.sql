-- Model price rows: the user's (HOME/prices/*.csv) first, then the shipped seed.
{%- set user_glob = var('user_prices_glob') or (home_path() ~ '/prices/*.csv') %}
with

shipped as (

    select
        provider,
        model_pattern,
        host,
        valid_from,
        input_usd_per_mtok,
        output_usd_per_mtok,
        cache_read_usd_per_mtok,
        cache_write_usd_per_mtok,
        source_url,
        'shipped' as price_source,
        2 as priority
    from {{ ref('model_prices') }}

),

user_rows as (

    {%- if files_exist(user_glob) %}
    select
        provider,
        model_pattern,
        host,
        cast(valid_from as date) as valid_from,
        cast(nullif(input_usd_per_mtok, '') as double) as input_usd_per_mtok,
        cast(nullif(output_usd_per_mtok, '') as double) as output_usd_per_mtok,
        cast(nullif(cache_read_usd_per_mtok, '') as double) as cache_read_usd_per_mtok,
        cast(nullif(cache_write_usd_per_mtok, '') as double) as cache_write_usd_per_mtok,
        source_url,
        'user' as price_source,
        1 as priority
    from {{ source('user_prices', 'model_prices') }}
    {%- else %}
    -- No user file: {{ source('user_prices', 'model_prices') }} would fail on an empty glob.
        select
            cast(null as string) as provider,
            cast(null as string) as model_pattern,
            cast(null as string) as host,
            cast(null as date) as valid_from,
            cast(null as double) as input_usd_per_mtok,
            cast(null as double) as output_usd_per_mtok,
            cast(null as double) as cache_read_usd_per_mtok,
            cast(null as double) as cache_write_usd_per_mtok,
            cast(null as string) as source_url,
            'user' as price_source,
            1 as priority
        where false
    {%- endif %}

),

unioned as (

    select * from user_rows
    union all
    select * from shipped

),

final as (

    select
        lower(trim(provider)) as provider,
        lower(trim(model_pattern)) as model_pattern,
        lower(trim(coalesce(host, provider))) as host,
        coalesce(valid_from, date '1970-01-01') as valid_from,
        input_usd_per_mtok,
        output_usd_per_mtok,
        cache_read_usd_per_mtok,
        cache_write_usd_per_mtok,
        source_url,
        price_source,
        priority
    from unioned
    where model_pattern is not null

)

select * from final
