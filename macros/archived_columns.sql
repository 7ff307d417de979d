{#-
    The columns the warehouse reads back from HOME/facts/<kind>/*.parquet, with types.
    Archive files may hold more columns (the helper archives whole rows); these are the
    contract between `fleetsignals.warehouse.archive_run_facts` and the build.
    A renamed column is a triple (name, type, former name): files archived before the
    rename still read (read_archive takes whichever of the two a file has). An added column
    is a triple (name, type, none): files archived before it read it as null.
-#}
{% macro archived_columns(kind) -%}
    {%- set run_dimension_columns = [] -%}
    {%- for dimension in run_dimensions() -%}
        {%- do run_dimension_columns.append((dimension, 'string')) -%}
    {%- endfor -%}
    {%- set columns = {
        'runs': [
            ('run_id', 'string'), ('part_at', 'timestamp'),
        ] + run_dimension_columns + [
            ('started_at', 'timestamp'), ('last_span_at', 'timestamp'),
            ('root_ended_at', 'timestamp'), ('has_root', 'boolean'),
            ('root_status_code', 'string'), ('root_status_message', 'string'),
            ('span_count', 'bigint'), ('last_landed_at', 'timestamp'),
        ],
        'llm_calls': [
            ('run_id', 'string'), ('span_id', 'string'), ('parent_span_id', 'string'),
            ('part_at', 'timestamp'), ('span_name', 'string'),
            ('started_at', 'timestamp'), ('ended_at', 'timestamp'), ('duration_ms', 'double'),
            ('model', 'string'), ('provider', 'string'),
            ('input_tokens', 'bigint'), ('output_tokens', 'bigint'),
            ('cache_read_tokens', 'bigint'), ('cache_write_tokens', 'bigint'),
            ('reasoning_tokens', 'bigint'), ('reported_cost_usd', 'double'),
            ('is_error', 'boolean'), ('landed_at', 'timestamp', none),
        ],
        'tool_calls': [
            ('run_id', 'string'), ('span_id', 'string'), ('parent_span_id', 'string'),
            ('part_at', 'timestamp'), ('span_name', 'string'),
            ('started_at', 'timestamp'), ('ended_at', 'timestamp'), ('duration_ms', 'double'),
            ('tool_name', 'string'), ('tool_call_id', 'string'),
            ('tool_args_hash', 'string', 'args_hash'),
            ('is_error', 'boolean'), ('landed_at', 'timestamp', none),
        ],
        'retention': [
            ('run_id', 'string'), ('retention_reason', 'string'),
            ('sample_weight', 'double'), ('decided_at', 'timestamp'),
        ],
    } -%}
    {{ return(columns[kind]) }}
{%- endmacro %}
