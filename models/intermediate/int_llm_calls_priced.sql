-- The LLM calls of the runs this build recomputes, with normalized tokens and cost.
-- Cost: a cost reported on the span wins; otherwise tokens times the price row whose
-- regex matches the model and that was in effect on the call's day. No match: null
-- cost and is_priced = false (surfaced in dim_unpriced_models), never a silent zero.
with

touched as (

    select
        run_id,
        is_archived
    from {{ ref('int_runs_indexed') }}
    where build_id = '{{ this_build_id() }}'

),

lake_calls as (

    select
        run_id,
        span_id,
        parent_span_id,
        span_name,
        start_at as started_at,
        end_at as ended_at,
        duration_ms,
        model,
        provider,
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_write_tokens,
        reasoning_tokens,
        reported_cost_usd,
        status_code = 'error' as is_error,
        known_at
    from {{ ref('int_spans_touched') }}
    where operation = 'llm'

),

archived_calls as (

    select
        calls.run_id,
        calls.span_id,
        calls.parent_span_id,
        calls.span_name,
        calls.started_at,
        calls.ended_at,
        calls.duration_ms,
        calls.model,
        calls.provider,
        calls.input_tokens,
        calls.output_tokens,
        calls.cache_read_tokens,
        calls.cache_write_tokens,
        calls.reasoning_tokens,
        calls.reported_cost_usd,
        calls.is_error,
        -- The archive keeps a run's final facts only: its calls count from their end.
        calls.ended_at as known_at
    from {{ ref('stg_facts__llm_calls') }} as calls
    inner join touched on calls.run_id = touched.run_id and touched.is_archived

),

calls as (

    select * from lake_calls
    union all
    select * from archived_calls

),

normalized as (

    -- OTel GenAI input_tokens already include cached tokens (read and written), so the
    -- uncached part is charged at the input price and the cached parts at theirs.
    -- An instrumentation that reports them separately (Anthropic's native usage) would
    -- go negative here: clamp at zero rather than credit money back.
    select
        *,
        lower(trim(model)) as model_key,
        lower(coalesce(provider, '')) as provider_key,
        coalesce(input_tokens, 0) as input_token_count,
        coalesce(output_tokens, 0) as output_token_count,
        coalesce(cache_read_tokens, 0) as cache_read_token_count,
        coalesce(cache_write_tokens, 0) as cache_write_token_count,
        coalesce(reasoning_tokens, 0) as reasoning_token_count,
        greatest(
            coalesce(input_tokens, 0) - coalesce(cache_read_tokens, 0) - coalesce(cache_write_tokens, 0),
            0
        ) as uncached_input_tokens
    from calls

),

prices as (

    select * from {{ ref('stg_prices__model_prices') }}

),

call_models as (

    -- Match each (model, provider, day) once rather than every call against every regex.
    select distinct
        model_key,
        provider_key,
        cast(started_at as date) as called_on
    from normalized
    where model_key is not null

),

matched as (

    select
        call_models.model_key,
        call_models.provider_key,
        call_models.called_on,
        prices.model_pattern,
        prices.host,
        prices.price_source,
        prices.input_usd_per_mtok,
        prices.output_usd_per_mtok,
        prices.cache_read_usd_per_mtok,
        prices.cache_write_usd_per_mtok,
        row_number() over (
            partition by call_models.model_key, call_models.provider_key, call_models.called_on
            order by
                prices.priority asc,
                -- A model served by several hosts (Llama on Together and Groq): the host
                -- named by the call's provider wins.
                (call_models.provider_key like '%' || prices.host || '%') desc,
                prices.valid_from desc,
                length(prices.model_pattern) desc,
                prices.host
        ) as match_rank
    from call_models
    inner join prices
        on
            regexp_full_match(call_models.model_key, prices.model_pattern)
            and call_models.called_on >= prices.valid_from

),

best_price as (

    select *
    from matched
    where match_rank = 1

),

priced as (

    select
        normalized.run_id,
        normalized.span_id,
        normalized.parent_span_id,
        normalized.span_name,
        normalized.started_at,
        normalized.ended_at,
        normalized.duration_ms,
        normalized.model,
        normalized.provider,
        normalized.input_token_count as input_tokens,
        normalized.output_token_count as output_tokens,
        normalized.cache_read_token_count as cache_read_tokens,
        normalized.cache_write_token_count as cache_write_tokens,
        normalized.reasoning_token_count as reasoning_tokens,
        normalized.uncached_input_tokens,
        normalized.reported_cost_usd,
        best_price.model_pattern as price_pattern,
        best_price.host as price_host,
        best_price.price_source,
        case
            when normalized.reported_cost_usd is not null then normalized.reported_cost_usd
            when best_price.model_pattern is null then null
            else (
                normalized.uncached_input_tokens * best_price.input_usd_per_mtok
                + normalized.output_token_count * best_price.output_usd_per_mtok
                + normalized.cache_read_token_count
                * coalesce(best_price.cache_read_usd_per_mtok, best_price.input_usd_per_mtok)
                + normalized.cache_write_token_count
                * coalesce(best_price.cache_write_usd_per_mtok, best_price.input_usd_per_mtok)
            ) / 1000000.0
        end as cost_usd,
        case
            when normalized.reported_cost_usd is not null then 'reported'
            when best_price.model_pattern is not null then 'price_table'
        end as cost_source,
        normalized.reported_cost_usd is not null or best_price.model_pattern is not null as is_priced,
        normalized.is_error,
        normalized.known_at
    from normalized
    left join best_price
        on
            normalized.model_key = best_price.model_key
            and normalized.provider_key = best_price.provider_key
            and cast(normalized.started_at as date) = best_price.called_on

)

select * from priced
