-- Every landed span still in the lake, one row each (the contract's `spans` table):
-- normalized fields, dimensions (span attributes, else resource), all attributes.

with

spans as (

    select * from {{ ref('stg_otel__spans') }}

),

final as (

    select
        * exclude (
            resource_agent_name,
            resource_prompt_variant,
            resource_workflow,
            resource_tenant_id,
            resource_user_id,
            resource_user_cohort,
            resource_session_id,
            resource_environment
        )
        replace (
            coalesce(agent_name, resource_agent_name) as agent_name,
            coalesce(prompt_variant, resource_prompt_variant) as prompt_variant,
            coalesce(workflow, resource_workflow) as workflow,
            coalesce(tenant_id, resource_tenant_id) as tenant_id,
            coalesce(user_id, resource_user_id) as user_id,
            coalesce(user_cohort, resource_user_cohort) as user_cohort,
            coalesce(session_id, resource_session_id) as session_id,
            coalesce(environment, resource_environment) as environment
        )
    from spans

)

select * from final
