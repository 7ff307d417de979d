{#-
    The agent_name of a rolling-window group of `dimension`, as a SQL expression over a
    relation that has agent_name. Prompt variants belong to their agent (variant 1.5.0 of
    two agents is two groups), so prompt_variant groups are per agent x variant; agent_name
    groups name their agent too; every other group pools agents (null).
-#}
{% macro window_agent_scope(dimension) -%}
    {%- if dimension in ['agent_name', 'prompt_variant'] -%}
        coalesce(agent_name, '(none)')
    {%- else -%}
        cast(null as varchar)
    {%- endif -%}
{%- endmacro %}
