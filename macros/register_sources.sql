{#-
    on-run-start: make the lake's Parquet files queryable as the sources the models read.
    DuckDB reads them through each source's external_location (dbt-duckdb); Spark needs
    a view per source over the path (the lake's hive partitions dt and hr are discovered
    as date and int, as DuckDB's hive_types give). Only sources whose files exist get
    one (var present_files, see files_exist); the models read the others as empty.
-#}
{% macro register_sources() -%}
    {{ return(adapter.dispatch('register_sources', 'fleetsignals')()) }}
{%- endmacro %}

{% macro default__register_sources() -%}
    {{ return('') }}
{%- endmacro %}

{% macro spark__register_sources() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set home = home_path() -%}
    {%- set present = var('present_files', []) -%}
    {%- set statements = [
        "create schema if not exists lake",
        "create or replace view lake.spans as select * from parquet.`" ~ home ~ "/lake/spans`",
    ] -%}
    {%- set labels = home ~ '/lake/labels/*/*.parquet' -%}
    {%- if labels in present -%}
        {%- do statements.append("create schema if not exists labels") -%}
        {%- do statements.append("create or replace view labels.labels as select * from parquet.`" ~ labels ~ "`") -%}
    {%- endif -%}
    {%- set prices = var('user_prices_glob') or (home ~ '/prices/*.csv') -%}
    {%- if prices in present -%}
        {%- do statements.append("create schema if not exists user_prices") -%}
        {%- do statements.append("drop table if exists user_prices.model_prices") -%}
        {%- do statements.append("create table user_prices.model_prices using csv options (path '"
            ~ prices | replace("'", "") ~ "', header 'true')") -%}
    {%- endif -%}
    {%- for statement in statements -%}
        {%- do run_query(statement) -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}
