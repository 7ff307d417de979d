{#-
    Whether `pattern` (a regular expression, e.g. a price row's model_pattern) matches
    the whole of `value`. DuckDB has regexp_full_match (RE2); Spark anchors regexp_like
    (Java regular expressions: the same for the patterns prices use, which are plain
    alternations, classes and quantifiers).
-#}
{% macro regex_full_match(value, pattern) -%}
    {{ return(adapter.dispatch('regex_full_match', 'fleetsignals')(value, pattern)) }}
{%- endmacro %}

{% macro default__regex_full_match(value, pattern) -%}
    regexp_full_match({{ value }}, {{ pattern }})
{%- endmacro %}

{% macro spark__regex_full_match(value, pattern) -%}
    regexp_like({{ value }}, '^(?:' || {{ pattern }} || ')$')
{%- endmacro %}
