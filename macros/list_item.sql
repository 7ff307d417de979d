{#-
    The item at 1-based `position` of a list.
    Dispatched: DuckDB list[position] counts from 1, Spark's array[i] from 0, so Spark
    uses element_at.
-#}
{% macro list_item(list, position) -%}
    {{ return(adapter.dispatch('list_item', 'fleetsignals')(list, position)) }}
{%- endmacro %}

{% macro default__list_item(list, position) -%}
    {{ list }}[{{ position }}]
{%- endmacro %}

{% macro spark__list_item(list, position) -%}
    element_at({{ list }}, {{ position }})
{%- endmacro %}
