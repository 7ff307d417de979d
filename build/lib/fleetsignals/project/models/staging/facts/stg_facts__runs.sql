-- Base facts of runs whose spans retention pruned; one row per run.
with

archived as (
    {{ read_archive('runs') }}
),

final as (

    -- Archiving twice is harmless: keep the latest copy of a run.
    select *
    from archived
    qualify row_number() over (partition by run_id order by last_landed_at desc nulls last) = 1

)

select * from final
