-- Models seen in LLM calls that no price row matches and no span reported a cost for.
-- `fleetsignals build` warns while this table has rows: add price rows (docs/warehouse.md).
with

calls as (

    -- Calls that lack only token usage have a price: they are counted in the runs'
    -- unpriced_call_count, not here.
    select * from {{ ref('fct_llm_calls') }}
    where not is_priced and price_pattern is null

),

final as (

    select
        coalesce(model, '(none)') as model,
        string_agg(distinct provider, ', ' order by provider) as providers,
        count(*) as call_count,
        count(distinct run_id) as run_count,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens,
        min(started_at) as first_called_at,
        max(started_at) as last_called_at
    from calls
    group by coalesce(model, '(none)')

)

select * from final
