{#-
    Timestamp `timestamp` floored to a grid of `minutes` (an integer dividing a day, e.g. 5)
    counted from the epoch: the start of its bucket, of the same type. An expression over
    a column: Spark's spelling reads `timestamp` twice.
    Dispatched: DuckDB's time_bucket (its origin, 2000-01-03, lies on every such grid);
    Spark has none, so epoch microseconds are floored (pmod, also before 1970).
-#}
{% macro timestamp_floor(timestamp, minutes) -%}
    {{ return(adapter.dispatch('timestamp_floor', 'fleetsignals')(timestamp, minutes)) }}
{%- endmacro %}

{% macro default__timestamp_floor(timestamp, minutes) -%}
    time_bucket(interval {{ minutes }} minute, {{ timestamp }})
{%- endmacro %}

{#- timestamp_micros gives Spark's zoned timestamp; the session zone is UTC (profiles.yml). -#}
{% macro spark__timestamp_floor(timestamp, minutes) -%}
    cast(
        timestamp_micros(
            unix_micros({{ timestamp }}) - pmod(unix_micros({{ timestamp }}), {{ minutes * 60000000 }})
        ) as timestamp_ntz
    )
{%- endmacro %}
