{#-
    The agent_name of a rolling-window group of `dimension`, as a SQL expression over a
    relation that has agent_name. The groups of var `per_agent_dimensions` (from
    fleetsignals.contract) are per agent: prompt variants belong to their agent (variant
    1.5.0 of two agents is two groups) and agent groups name their agent; every other group
    pools agents (null).
-#}
{% macro window_agent_scope(dimension) -%}
    {%- if dimension in var('per_agent_dimensions') -%}
        coalesce(agent_name, '(none)')
    {%- else -%}
        cast(null as string)
    {%- endif -%}
{%- endmacro %}
