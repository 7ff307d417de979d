{#-
    Post-hook of int_spans_touched: "recorded" means "read by this build". Deletes this
    build's rows in int_build_landings_recorded (`landings`) of every landing with a run
    whose rows of that landing are not in int_spans_touched, the spans this build's facts
    are computed from. int_build_landings_recorded, int_runs_indexed and int_spans_touched
    read the lake one after the other, and a file can be out of sight for a moment in
    between (retain swapping its hour, docs/retention.md); a landing recorded by the first
    read but missed by a later one is then read again by the next build instead of never.
    A file is renamed in whole, so one of its rows here means int_spans_touched read all of
    it. A landing whose rows are all dropped copies of a span landed earlier
    (deduplicated_spans), or whose run is archived, is not here either: it is only read
    again, which touches no run, until it leaves the overlap.
-#}
{% macro confirm_landings_recorded(landings) -%}
    {{ return(adapter.dispatch('confirm_landings_recorded', 'fleetsignals')(landings)) }}
{%- endmacro %}

{% macro default__confirm_landings_recorded(landings) -%}
    delete from {{ landings }} as recorded
    where
        recorded.build_id = '{{ this_build_id() }}'
        and exists (
            select 1 from {{ landings }} as missed
            where
                missed.build_id = recorded.build_id
                and missed.dt = recorded.dt
                and missed.hr = recorded.hr
                and missed.source_sha256 = recorded.source_sha256
                and missed.landed_at = recorded.landed_at
                and not exists (
                    select 1 from {{ this }} as spans
                    where
                        spans.run_id = missed.run_id
                        and spans.dt = missed.dt
                        and spans.hr = missed.hr
                        and spans.source_sha256 = missed.source_sha256
                        and spans.landed_at = missed.landed_at
                )
        )
{%- endmacro %}

{#-
    Spark builds are full refreshes for now (Parquet tables take no delete): nothing is
    deleted there, as prune_landings_recorded prunes nothing.
-#}
{% macro spark__confirm_landings_recorded(landings) -%}
    {{ return('') }}
{%- endmacro %}
