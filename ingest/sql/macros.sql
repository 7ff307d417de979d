-- Helpers of ingest/sql/spans.sql that read OTLP's tolerant encodings, created on each
-- parsing connection by ingest/otlp_sql.py (register).
create or replace macro otlp_id(x, nbytes) as case
    when x is null or x = '' then null
    when length(x) = 2 * nbytes and regexp_full_match(x, '[0-9a-fA-F]+') then lower(x)
    when octet_length(
            try(from_base64(translate(x, '-_', '+/') || repeat('=', (4 - length(x) % 4) % 4)))
        ) = nbytes
        then lower(
                hex(from_base64(translate(x, '-_', '+/') || repeat('=', (4 - length(x) % 4) % 4)))
            )
    else '!' || x
end;

create or replace macro otlp_ns(x) as coalesce(
    try_cast(x as bigint),
    try_cast(try_cast(x as double) as bigint)
);

create or replace macro otlp_kind(k) as case
upper(replace(replace(coalesce(k, ''), 'SPAN_KIND_', ''), 'span_kind_', ''))
    when '1' then 'internal' when 'INTERNAL' then 'internal'
    when '2' then 'server' when 'SERVER' then 'server'
    when '3' then 'client' when 'CLIENT' then 'client'
    when '4' then 'producer' when 'PRODUCER' then 'producer'
    when '5' then 'consumer' when 'CONSUMER' then 'consumer'
    else 'unspecified'
end;

create or replace macro otlp_status(c) as case
upper(replace(replace(coalesce(c, ''), 'STATUS_CODE_', ''), 'status_code_', ''))
    when '1' then 'ok' when 'OK' then 'ok'
    when '2' then 'error' when 'ERROR' then 'error'
    else 'unset'
end;

create or replace macro otlp_int(x) as try_cast(try_cast(x as double) as bigint);

-- A converted attribute list, events or links (JSON text) without the mark of the
-- attribute limits (a leading \x01, ingest/values.py), and whether it had the mark.
create or replace macro otlp_uncut(x) as case
    when starts_with(x, chr(1)) then substr(x, 2) else x
end;

create or replace macro otlp_is_cut(x) as coalesce(starts_with(x, chr(1)), false);
