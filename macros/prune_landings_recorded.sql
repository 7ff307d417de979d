{#-
    Post-hook of int_build_landings_recorded: drop the landings at or before this build's
    landed_after_at. This build and every later one re-read only landings after their own
    landed_after_at, which does not move back while the lake's newest landing stays in the
    hours they scan; if it ever did, a pruned landing would only be read again, never missed.
    `watermarks` is ref('int_build_watermarks_recorded'); a full build (landed_after_at
    null) prunes nothing.
-#}
{% macro prune_landings_recorded(watermarks) -%}
    {{ return(adapter.dispatch('prune_landings_recorded', 'fleetsignals')(watermarks)) }}
{%- endmacro %}

{% macro default__prune_landings_recorded(watermarks) -%}
    delete from {{ this }}
    where landed_at <= (
        select landed_after_at from {{ watermarks }}
        where build_id = '{{ this_build_id() }}'
    )
{%- endmacro %}

{#-
    Spark builds are full refreshes for now (Parquet tables take no delete): the table
    holds that build's landings only.
-#}
{% macro spark__prune_landings_recorded(watermarks) -%}
    {{ return('') }}
{%- endmacro %}
