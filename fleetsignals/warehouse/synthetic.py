"""A fast synthetic span lake, written directly as Parquet with DuckDB SQL.

Used by the warehouse tests and ``bench/build.py`` to make days of history in
seconds (the OTLP generator + ingest path is the realistic one, and slower).
Runs are deterministic functions of (seed, run number), so the lake can be
written in slices of span end time: ``write_synthetic_lake(..., until=T)``
then ``write_synthetic_lake(..., since=T, until=T + 5m)`` lands exactly the
spans that ended in the next five minutes, runs in flight included.

Shape of a run: a root agent span, then ``2..11`` sequential steps
alternating LLM call (even step) and tool call (odd step). About 3 % of
runs end in error, about 5 % of tool calls fail, and the dimensions sit on
the root span's attributes only (the warehouse must copy them to the run).
"""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from fleetsignals.ingest.schema import SPAN_SCHEMA
from fleetsignals.sqltext import quote_literal

AGENTS = ["planner", "researcher", "coder", "support"]
MODELS = ["gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash", "some-unpriced-model"]
TOOLS = ["web_search", "read_file", "run_sql", "send_email"]

_RUNS_SQL = """
with runs as (
    select
        i as run_no,
        md5($seed || '-run-' || i) as trace_id,
        $start::timestamp
            + to_microseconds((i * 60000000 // $rpm)::bigint)
            + to_microseconds((hash($seed, i, 'j') % 3000000)::bigint) as run_start,
        (2 + hash($seed, i, 'steps') % 10)::bigint as steps,
        (hash($seed, i, 'agent') % 4)::bigint as agent_no,
        hash($seed, i, 'err') % 100 < 3 as is_error_run,
        (hash($seed, i, 'tenant') % 7)::bigint as tenant_no
    from range($n) as t (i)
),

steps as (
    select
        r.*,
        k,
        case when k % 2 = 0 then 'llm' else 'tool' end as op,
        case
            when k % 2 = 0 then 800 + hash(r.trace_id, k, 'd') % 2200
            else 100 + hash(r.trace_id, k, 'd') % 400
        end as dur_ms
    from runs as r, range(r.steps) as s (k)
),

timed as (
    select
        *,
        run_start + to_milliseconds(
            (50 + sum(dur_ms + 10) over (partition by trace_id order by k) - dur_ms - 10)::bigint
        ) as span_start
    from steps
),

step_spans as (
    select
        trace_id,
        substr(md5(trace_id || '-' || k), 1, 16) as span_id,
        substr(md5(trace_id || '-root'), 1, 16) as parent_span_id,
        case when op = 'llm' then 'chat ' || $models[1 + agent_no] else 'execute_tool ' || $tools[(1 + hash(trace_id, k, 't') % 4)::bigint] end as name,
        case when op = 'llm' then 'client' else 'internal' end as kind,
        span_start as start_at,
        span_start + to_milliseconds(dur_ms::bigint) as end_at,
        case when op = 'tool' and hash(trace_id, k, 'e') % 100 < 5 then 'error' else 'unset' end as status_code,
        op as operation,
        agent_no,
        tenant_no,
        case when op = 'tool' then $tools[(1 + hash(trace_id, k, 't') % 4)::bigint] end as tool_name,
        case when op = 'llm' then $models[1 + agent_no] end as model,
        case when op = 'llm' then (500 + hash(trace_id, k, 'i') % 2500)::bigint end as input_tokens,
        case when op = 'llm' then (50 + hash(trace_id, k, 'o') % 450)::bigint end as output_tokens,
        case when op = 'llm' then (hash(trace_id, k, 'c') % 400)::bigint end as cache_read_tokens,
        false as is_root
    from timed
),

root_spans as (
    select
        t.trace_id,
        substr(md5(t.trace_id || '-root'), 1, 16) as span_id,
        null as parent_span_id,
        'invoke_agent ' || $agents[1 + any_value(t.agent_no)] as name,
        'internal' as kind,
        any_value(t.run_start) as start_at,
        max(t.span_start + to_milliseconds(t.dur_ms::bigint)) + interval 20 millisecond as end_at,
        case when bool_or(t.is_error_run) then 'error' else 'ok' end as status_code,
        'agent' as operation,
        any_value(t.agent_no) as agent_no,
        any_value(t.tenant_no) as tenant_no,
        null as tool_name,
        null as model,
        null::bigint as input_tokens,
        null::bigint as output_tokens,
        null::bigint as cache_read_tokens,
        true as is_root
    from timed as t
    group by t.trace_id
),

spans as (
    select * from step_spans
    union all
    select * from root_spans
)

select
    trace_id,
    span_id,
    parent_span_id,
    null::varchar as trace_state,
    name,
    kind,
    start_at,
    end_at,
    epoch_ns(start_at) as start_ns,
    epoch_ns(end_at) as end_ns,
    date_diff('microsecond', start_at, end_at) / 1000.0 as duration_ms,
    status_code,
    null::varchar as status_message,
    'svc-' || $agents[1 + agent_no] as service_name,
    'synthetic' as scope_name,
    null::varchar as scope_version,
    operation,
    case when is_root then $agents[1 + agent_no] end as agent_name,
    tool_name,
    null::varchar as tool_call_id,
    case when tool_name is not null then substr(md5(trace_id || span_id), 1, 16) end as tool_args_hash,
    model,
    case when model is not null then 'synthetic' end as provider,
    input_tokens,
    output_tokens,
    cache_read_tokens,
    null::bigint as cache_write_tokens,
    null::bigint as reasoning_tokens,
    null::double as cost_usd,
    case when is_root then 'v' || (1 + hash(trace_id, 'pv') % 2) end as prompt_variant,
    case when is_root then 'wf-' || (agent_no % 2) end as workflow,
    case when is_root then 'tenant-' || tenant_no end as tenant_id,
    case when is_root then 'user-' || hash(trace_id, 'u') % 50 end as user_id,
    case when is_root then (case when tenant_no < 2 then 'enterprise' else 'free' end) end as user_cohort,
    case when is_root then 'session-' || hash(trace_id, 's') % 500 end as session_id,
    'prod' as environment,
    case
        when is_root then json_object(
            'gen_ai.agent.name', $agents[1 + agent_no],
            'gen_ai.agent.version', 'v' || (1 + hash(trace_id, 'pv') % 2),
            'gen_ai.workflow.name', 'wf-' || (agent_no % 2),
            'tenant.id', 'tenant-' || tenant_no,
            'user.id', 'user-' || hash(trace_id, 'u') % 50,
            'user.cohort', case when tenant_no < 2 then 'enterprise' else 'free' end,
            'app.customer_tier', case when tenant_no < 4 then 'gold' else 'silver' end,
            'gen_ai.conversation.id', 'session-' || hash(trace_id, 's') % 500
        )
        when operation = 'llm' then json_object(
            'gen_ai.operation.name', 'chat',
            'gen_ai.request.model', model,
            'gen_ai.response.model', model,
            'gen_ai.usage.input_tokens', input_tokens,
            'gen_ai.usage.output_tokens', output_tokens
        )
        else json_object('gen_ai.operation.name', 'execute_tool', 'gen_ai.tool.name', tool_name)
    end::varchar as attributes,
    json_object(
        'service.name', 'svc-' || $agents[1 + agent_no],
        'deployment.environment.name', 'prod'
    )::varchar as resource_attributes,
    '{}' as scope_attributes,
    '[]' as events,
    '[]' as links,
    'synthetic' as source_sha256,
    $landed_at::timestamp as landed_at
from spans
where end_at >= $since::timestamp and end_at < $until::timestamp
"""


def write_synthetic_lake(
    lake: Path,
    *,
    start: datetime,
    hours: float,
    runs_per_minute: int = 20,
    seed: int = 1,
    since: datetime | None = None,
    until: datetime | None = None,
    landed_at: datetime | None = None,
) -> int:
    """Write the spans of a synthetic fleet that end in [since, until) into ``lake``.

    Runs start uniformly over ``hours`` from ``start``. Returns the span count
    written; files go to ``lake/dt=YYYY-MM-DD/hr=HH/synthetic-<uuid>.parquet``.
    """
    since = since or start
    until = until or start + timedelta(hours=hours + 1)
    params = {
        "seed": str(seed),
        "start": start,
        "rpm": runs_per_minute,
        "n": int(hours * 60 * runs_per_minute),
        "since": since,
        "until": until,
        "landed_at": landed_at or until,
        "agents": AGENTS,
        "models": MODELS,
        "tools": TOOLS,
    }
    columns = ", ".join(SPAN_SCHEMA.names)
    with duckdb.connect() as con:
        con.execute(f"create temp table synth as select {columns} from ({_RUNS_SQL})", params)
        count = con.execute("select count(*) from synth").fetchone()[0]
        if count == 0:
            return 0
        lake.mkdir(parents=True, exist_ok=True)
        # Written beside the lake, then renamed in: readers globbing the lake never see
        # a half-written file (as ingest guarantees too).
        staging = lake.parent / f".synthetic-{uuid.uuid4().hex}"
        con.execute(
            f"""
            copy (
                select *, strftime(end_at, '%Y-%m-%d') as dt, strftime(end_at, '%H') as hr
                from synth
            ) to {quote_literal(staging)} (
                format parquet, compression zstd, partition_by (dt, hr),
                filename_pattern 'synthetic-{{uuid}}'
            )
            """
        )
    for path in sorted(staging.glob("*/*/*.parquet")):
        target = lake / path.parent.parent.name / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    shutil.rmtree(staging, ignore_errors=True)
    return count
