-- The LLM and tool calls that can enter this build's windows, once per group they count
-- in (the groups of int_window_runs_keyed): fleet-wide, per value of each window
-- dimension of their run, per model (LLM calls) and per tool (tool calls).
-- One row per (call, dimension, agent_name, dimension_value).
{%- set measures = 'call_kind, event_at, is_error, input_tokens, output_tokens' %}
{#- agent_name is read even if not a window dimension: prompt_variant groups name it. #}
{%- set dimensions = (window_dimensions() + ['agent_name']) | unique | list %}

with

llm_calls as (

    select * from {{ ref('fct_llm_calls') }}

),

tool_calls as (

    select * from {{ ref('fct_tool_calls') }}

),

window_ends as (

    select * from {{ ref('int_window_ends_planned') }}

),

ended_calls as (

    select
        'llm' as call_kind,
        {%- for dimension in dimensions %}
            {{ dimension }},
        {%- endfor %}
        ended_at as event_at,
        is_error,
        input_tokens,
        output_tokens,
        model,
        cast(null as string) as tool_name
    from llm_calls
    where ended_at > (select min(window_ends.window_end_at) from window_ends) - interval 60 minute
    union all
    select
        'tool' as call_kind,
        {%- for dimension in dimensions %}
            {{ dimension }},
        {%- endfor %}
        ended_at as event_at,
        is_error,
        0 as input_tokens,
        0 as output_tokens,
        cast(null as string) as model,
        tool_name
    from tool_calls
    where ended_at > (select min(window_ends.window_end_at) from window_ends) - interval 60 minute

),

final as (

    select
        'fleet' as dimension,
        cast(null as string) as agent_name,
        'all' as dimension_value,
        {{ measures }}
    from ended_calls
    {%- for dimension in window_dimensions() %}
        union all
        select
            '{{ dimension }}' as dimension,
            {{ window_agent_scope(dimension) }} as agent_name,
            coalesce({{ dimension }}, '(none)') as dimension_value,
            {{ measures }}
        from ended_calls
    {%- endfor %}
    union all
    select
        'model' as dimension,
        cast(null as string) as agent_name,
        coalesce(model, '(none)') as dimension_value,
        {{ measures }}
    from ended_calls
    where call_kind = 'llm'
    union all
    select
        'tool_name' as dimension,
        cast(null as string) as agent_name,
        tool_name as dimension_value,
        {{ measures }}
    from ended_calls
    where call_kind = 'tool'

)

select * from final
