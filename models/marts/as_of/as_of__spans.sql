-- The contract's `spans` as known at the evaluation time (the DuckDB variable eval_at):
-- the spans whose file had been received by then and that had ended by then
-- (int_source_files_received explains the received time).

with

spans as (

    select * from {{ ref('fct_spans') }}

),

files as (

    select
        source_sha256,
        received_at
    from {{ ref('int_source_files_received') }}

),

final as (

    select spans.*
    from spans
    left join files on spans.source_sha256 = files.source_sha256
    where greatest(spans.end_at, files.received_at) <= getvariable('eval_at')

)

select * from final
