{#-
    The column an incremental table is partitioned by, on engines whose incremental
    writes replace whole partitions (Spark: Parquet tables take no delete, so a table is
    changed by overwriting partitions of it); none on DuckDB, which deletes and inserts
    rows by unique_key and stores no partitions.
-#}
{% macro partitioned_by(column) -%}
    {{ return(adapter.dispatch('partitioned_by', 'fleetsignals')(column)) }}
{%- endmacro %}

{% macro default__partitioned_by(column) -%}
    {{ return(none) }}
{%- endmacro %}

{% macro spark__partitioned_by(column) -%}
    {{ return(column) }}
{%- endmacro %}
