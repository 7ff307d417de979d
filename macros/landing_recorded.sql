{#-
    True for a lake row (span columns under `alias`) whose landing, (dt, hr,
    source_sha256, landed_at), this build recorded in `landings`
    (ref('int_build_landings_recorded'), passed in as build_bounds' relation is).
-#}
{% macro landing_recorded(alias, landings) -%}
    exists (
        select 1 from {{ landings }} as landings
        where
            landings.build_id = '{{ this_build_id() }}'
            and landings.dt = {{ alias }}.dt
            and landings.hr = {{ alias }}.hr
            and landings.source_sha256 = {{ alias }}.source_sha256
            and landings.landed_at = {{ alias }}.landed_at
    )
{%- endmacro %}
