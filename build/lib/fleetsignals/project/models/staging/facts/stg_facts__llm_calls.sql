-- LLM calls of archived runs; one row per (run_id, span_id).
with

archived as (
    {{ read_archive('llm_calls') }}
),

final as (

    select *
    from archived
    qualify row_number() over (partition by run_id, span_id order by ended_at) = 1

)

select * from final
