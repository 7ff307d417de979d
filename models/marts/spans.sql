-- Every landed span still in the lake, one row each (the contract's `spans` table):
-- normalized fields, dimensions (span attributes, else resource), all attributes.
{{ config(materialized='view') }}

with

spans as (

    select * from {{ ref('stg_otel__spans') }}

),

final as (

    select
        * exclude (
            {%- for dimension in ['agent_name', 'prompt_variant', 'workflow', 'tenant_id', 'user_id', 'user_cohort', 'session_id', 'environment'] %}
            {{ dimension }}, resource_{{ dimension }}{{ "," if not loop.last }}
            {%- endfor %}
        ),
        {%- for dimension in ['agent_name', 'prompt_variant', 'workflow', 'tenant_id', 'user_id', 'user_cohort', 'session_id', 'environment'] %}
        coalesce({{ dimension }}, resource_{{ dimension }}) as {{ dimension }}{{ "," if not loop.last }}
        {%- endfor %}
    from spans

)

select * from final
