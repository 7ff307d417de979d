{#-
    Aggregate: the continuous percentiles of `expression` at `fractions` (a list of
    numbers), as a list of doubles. One definition on both engines: linear interpolation
    between the closest ranks (the value at position f * (n - 1) of the sorted non-null
    values), which is DuckDB's quantile_cont and Spark's percentile
    (tests/spark/test_spark_percentiles.py compares them on the same values).
-#}
{% macro percentiles_cont(expression, fractions) -%}
    {{ return(adapter.dispatch('percentiles_cont', 'fleetsignals')(expression, fractions)) }}
{%- endmacro %}

{% macro default__percentiles_cont(expression, fractions) -%}
    quantile_cont({{ expression }}, [{{ fractions | join(', ') }}])
{%- endmacro %}

{% macro spark__percentiles_cont(expression, fractions) -%}
    percentile({{ expression }}, array({{ fractions | join(', ') }}))
{%- endmacro %}
