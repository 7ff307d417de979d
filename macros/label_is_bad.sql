{#-
    Whether a label is bad: its categorical label is one of var `bad_labels`, or its score
    is below the threshold var `bad_score_below` gives its name. Both come from the
    operator's config (labels.bad_labels, labels.bad_score_below); values are quoted here.
-#}
{% macro label_is_bad(label, name, score) -%}
    {%- set bad = var('bad_labels', []) -%}
    {%- set below = var('bad_score_below', {}) -%}
    coalesce(
        {%- if bad | length > 0 %}
        {{ label }} in (
            {%- for value in bad %}'{{ value | lower | replace("'", "''") }}'{{ "," if not loop.last }}{% endfor -%}
        )
        {%- else %}
        false
        {%- endif %}
        {%- for key, threshold in below.items() %}
        or ({{ name }} = '{{ key | replace("'", "''") }}' and {{ score }} < {{ threshold | float }})
        {%- endfor %},
        false
    )
{%- endmacro %}
