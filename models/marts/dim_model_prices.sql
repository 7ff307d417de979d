-- The price rows in effect for this build: the user's rows (priority 1) and the shipped seed.
with

prices as (

    select * from {{ ref('stg_prices__model_prices') }}

),

final as (

    select
        price_source || ':' || host || ':' || model_pattern || ':' || cast(valid_from as string) as price_id,
        *
    from prices

)

select * from final
