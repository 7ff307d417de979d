{#- The contract dimensions a run carries (besides model), in contract order. -#}
{% macro run_dimensions() -%}
    {{ return([
        'agent_name', 'prompt_variant', 'workflow', 'tenant_id',
        'user_id', 'user_cohort', 'session_id', 'environment',
    ]) }}
{%- endmacro %}
