-- The latest retention decision per run.
with

decisions as (
    {{ read_archive('retention') }}
),

final as (

    select *
    from decisions
    qualify row_number() over (partition by run_id order by decided_at desc) = 1

)

select * from final
