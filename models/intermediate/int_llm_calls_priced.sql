-- The LLM calls of the runs this build recomputes, with normalized tokens and cost.
-- Cost: a cost reported on the span wins; otherwise tokens times the price row whose
-- regex matches the model and that was in effect on the call's day. No match, or no
-- token usage reported: null cost and is_priced = false, never a silent zero (models
-- without a price are surfaced in dim_unpriced_models).
-- Nested LLM spans (a framework's span around the model client's span of the same call,
-- or an SDK's wrapper around its per-step calls): only the innermost counts, so calls and
-- tokens are not counted twice (docs/ingest.md, "Which spans are LLM calls").
with recursive

touched as (

    select
        run_id,
        is_archived
    from {{ ref('int_runs_indexed') }}
    where build_id = '{{ this_build_id() }}'

),

lake_spans as (

    select * from {{ ref('int_spans_touched') }}

),

llm_ancestors as (

    -- Every span above each LLM span, walked up the parent links. The walk ends on a
    -- parent cycle, which untrusted trace data may contain: DuckDB's `union` drops rows
    -- already found, Spark's walk stops at a span it has passed (macro walk_visited).
    select
        run_id,
        span_id as llm_span_id,
        parent_span_id as span_id,
        {{ walk_visited('start') }} as visited_span_ids
    from lake_spans
    where operation = 'llm' and parent_span_id is not null
    {{ recursive_union() }}
    select
        lake_spans.run_id,
        llm_ancestors.llm_span_id,
        lake_spans.parent_span_id as span_id,
        {{ walk_visited('step', 'llm_ancestors') }} as visited_span_ids
    from llm_ancestors
    inner join lake_spans
        on llm_ancestors.run_id = lake_spans.run_id and llm_ancestors.span_id = lake_spans.span_id
    where lake_spans.parent_span_id is not null and {{ walk_visited('where', 'llm_ancestors') }}

),

enclosing_spans as (

    -- Spans with another LLM span below them (a cycle back to itself does not count).
    select distinct
        run_id,
        span_id
    from llm_ancestors
    where span_id != llm_span_id

),

lake_calls as (

    select
        lake_spans.run_id,
        lake_spans.span_id,
        lake_spans.parent_span_id,
        lake_spans.span_name,
        lake_spans.start_at as started_at,
        lake_spans.end_at as ended_at,
        lake_spans.duration_ms,
        lake_spans.model,
        lake_spans.provider,
        lake_spans.input_tokens,
        lake_spans.output_tokens,
        lake_spans.cache_read_tokens,
        lake_spans.cache_write_tokens,
        lake_spans.reasoning_tokens,
        lake_spans.reported_cost_usd,
        lake_spans.status_code = 'error' as is_error,
        lake_spans.landed_at
    from lake_spans
    -- An LLM span with an LLM span below it encloses that call: the inner one counts.
    left join enclosing_spans
        on lake_spans.run_id = enclosing_spans.run_id and lake_spans.span_id = enclosing_spans.span_id
    where lake_spans.operation = 'llm' and enclosing_spans.span_id is null

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
        calls.landed_at
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
        ) as uncached_input_tokens,
        -- No token usage at all (none reported, or only zeros, which is what an
        -- instrumentation that did not fill the fields sends): the price table cannot
        -- price the call. Checked on the normalized counts, which archived calls keep.
        coalesce(input_tokens, 0) + coalesce(output_tokens, 0) + coalesce(cache_read_tokens, 0)
        + coalesce(cache_write_tokens, 0) + coalesce(reasoning_tokens, 0) > 0 as has_usage
    from calls

),

usage_known as (

    -- A failed request (span status error) without usage was not billed: its tokens are
    -- known to be 0. Any other call without usage has an unknown cost.
    select
        *,
        has_usage or coalesce(is_error, false) as is_usage_known
    from normalized

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
    from usage_known
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
            {{ regex_full_match("call_models.model_key", "prices.model_pattern") }}
            and call_models.called_on >= prices.valid_from

),

best_price as (

    select *
    from matched
    where match_rank = 1

),

priced as (

    select
        usage_known.run_id,
        usage_known.span_id,
        usage_known.parent_span_id,
        usage_known.span_name,
        usage_known.started_at,
        usage_known.ended_at,
        usage_known.duration_ms,
        usage_known.model,
        usage_known.provider,
        usage_known.input_token_count as input_tokens,
        usage_known.output_token_count as output_tokens,
        usage_known.cache_read_token_count as cache_read_tokens,
        usage_known.cache_write_token_count as cache_write_tokens,
        usage_known.reasoning_token_count as reasoning_tokens,
        usage_known.uncached_input_tokens,
        usage_known.reported_cost_usd,
        best_price.model_pattern as price_pattern,
        best_price.host as price_host,
        best_price.price_source,
        case
            when usage_known.reported_cost_usd is not null then usage_known.reported_cost_usd
            when best_price.model_pattern is null or not usage_known.is_usage_known then null
            else (
                usage_known.uncached_input_tokens * best_price.input_usd_per_mtok
                + usage_known.output_token_count * best_price.output_usd_per_mtok
                + usage_known.cache_read_token_count
                * coalesce(best_price.cache_read_usd_per_mtok, best_price.input_usd_per_mtok)
                + usage_known.cache_write_token_count
                * coalesce(best_price.cache_write_usd_per_mtok, best_price.input_usd_per_mtok)
            ) / 1000000.0
        end as cost_usd,
        case
            when usage_known.reported_cost_usd is not null then 'reported'
            when best_price.model_pattern is not null and usage_known.is_usage_known then 'price_table'
        end as cost_source,
        usage_known.reported_cost_usd is not null
        or (best_price.model_pattern is not null and usage_known.is_usage_known) as is_priced,
        usage_known.has_usage,
        usage_known.is_error,
        usage_known.landed_at
    from usage_known
    left join best_price
        on
            usage_known.model_key = best_price.model_key
            and usage_known.provider_key = best_price.provider_key
            and cast(usage_known.started_at as date) = best_price.called_on

)

select * from priced
