{#-
    The contract dimensions a run carries, in contract order: the keys of var `dimensions`
    (fleetsignals.contract, passed by `fleetsignals build`) except `model`, which is per
    LLM call and has rules of its own (the model of most calls).
-#}
{% macro run_dimensions() -%}
    {%- set names = [] -%}
    {%- for name in var('dimensions') if name != 'model' -%}
        {%- do names.append(name) -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}
