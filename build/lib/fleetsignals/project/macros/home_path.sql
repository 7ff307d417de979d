{#- The data home, as `fleetsignals build` sets it (absolute), so paths in views stay valid. -#}
{% macro home_path() -%}
    {{ return(env_var('FLEETSIGNALS_HOME', 'warehouse').rstrip('/')) }}
{%- endmacro %}
