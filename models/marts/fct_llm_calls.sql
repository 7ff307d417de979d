-- One row per LLM call with its run's dimensions. Incremental: the calls of the runs
-- this build touched replace their previous rows (body shared with fct_tool_calls).
{{ config(unique_key='run_id', partition_by=partitioned_by('part_at')) }}

{{ calls_with_run_dimensions(ref('int_llm_calls_priced')) }}
