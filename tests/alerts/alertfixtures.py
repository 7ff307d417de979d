"""Helpers for alert tests: a real DuckDB snapshot written the way the warehouse publishes one
(HOME/snapshots/<file> named by HOME/snapshots/CURRENT), signal dirs and config files."""

from __future__ import annotations

import json
import socket
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import yaml

from fleetsignals.home import Home

# The synthetic fleet: one run a minute per tenant from T0 for 6 hours; tenant t2's runs
# cost 5x from T0 + 4h on; its runs keep a constant cost otherwise.
T0 = datetime(2026, 11, 20, 0, 0)

RUNS_SQL = """
create table fct_runs as
with minutes as (
    select range as minute from range(360)
),
tenants as (
    select unnest(['t1', 't2', 't3']) as tenant_id
)
select
    md5(tenant_id || minute::varchar) as run_id,
    'agent-' || tenant_id as agent_name,
    'v1' as prompt_variant,
    'support' as workflow,
    tenant_id,
    'u' || (minute % 7)::varchar as user_id,
    case when minute % 2 = 0 then 'free' else 'pro' end as user_cohort,
    's' || minute::varchar as session_id,
    'prod' as environment,
    'gpt-x' as model,
    $t0 + to_minutes(minute) as started_at,
    $t0 + to_minutes(minute) + interval 50 second as ended_at,
    $t0 + to_minutes(minute) + interval 50 second as last_span_at,
    'ok' as status,
    10 as step_count,
    4 as llm_call_count,
    6 as tool_call_count,
    0 as tool_error_count,
    1000 as input_tokens,
    200 as output_tokens,
    case
        when tenant_id = 't2' and minute >= 240 then 5.0 + (minute % 5) * 0.01
        else 1.0 + (minute % 5) * 0.01
    end as cost_usd,
    'sampled' as retention_reason,
    1.0 as sample_weight
from minutes
cross join tenants
"""

# Tenant t1's traffic triples from T0 + 4h with the same per-run cost: a surge, not an incident.
SURGE = """
insert into fct_runs by name
select
    md5(r.run_id || copy::varchar) as run_id,
    r.* exclude (run_id, started_at, ended_at, last_span_at),
    started_at + to_seconds(copy * 20) as started_at,
    ended_at + to_seconds(copy * 20) as ended_at,
    last_span_at + to_seconds(copy * 20) as last_span_at
from fct_runs as r, (select unnest([1, 2]) as copy)
where tenant_id = 't1' and started_at >= $t0 + interval 4 hour
"""


TOOL_CALLS_SQL = """
create table fct_tool_calls as
select
    run_id,
    'search' as tool_name,
    started_at,
    ended_at,
    false as is_error,
    'h' as args_hash,
    1 as streak_position,
    agent_name,
    prompt_variant,
    tenant_id,
    user_cohort,
    model
from fct_runs
"""


def publish_snapshot(home: Home, name: str = "snapshot-1.duckdb", extra_sql: str = "") -> Path:
    """Write a snapshot database and point CURRENT at it (atomically, as the warehouse does)."""
    home.snapshots.mkdir(parents=True, exist_ok=True)
    path = home.snapshots / name
    with duckdb.connect(str(path)) as con:
        con.execute(RUNS_SQL, {"t0": T0})
        con.execute(TOOL_CALLS_SQL)
        con.execute("create table spans as select run_id as trace_id from fct_runs limit 0")
        con.execute("create table fct_llm_calls as select run_id from fct_runs limit 0")
        if extra_sql:
            con.execute(extra_sql, {"t0": T0} if "$t0" in extra_sql else None)
    tmp = home.snapshots / "CURRENT.tmp"
    tmp.write_text(name, encoding="utf-8")
    tmp.replace(home.snapshots / "CURRENT")
    return path


def write_signal(directory: Path, name: str, sql: str, settings: dict | None = None) -> Path:
    """A signal file, with settings as front matter when given."""
    text = sql
    if settings is not None:
        text = "/* ---\n" + yaml.safe_dump(settings, sort_keys=False) + "--- */\n" + sql
    path = directory / f"{name}.sql"
    path.write_text(text, encoding="utf-8")
    return path


# A signal used by many tests: tenants whose runs in the last 30 minutes cost more than
# $threshold on average. Fires for t2 from T0 + 4h (+ the window filling up).
COSTLY_SQL = """
select tenant_id, avg(cost_usd) as value, count(*) as runs
from fct_runs
where ended_at <= $eval_at and ended_at > $eval_at - interval 30 minute
group by tenant_id
having avg(cost_usd) > $threshold
"""
COSTLY_SETTINGS = {
    "description": "Runs of {tenant_id} cost {value:.2f} USD on average",
    "severity": "critical",
    "summary": "{tenant_id}: average cost {value:.2f} over {runs:.0f} runs",
    "params": {"threshold": 2.0},
}


class Receiver:
    """A real HTTP server in a thread that records JSON POSTs; it can refuse with a status.
    ``echo``: a refusal's body repeats the request's path and Authorization header, as some
    receivers do ("invalid token ..."), to test that errors do not pass them on."""

    def __init__(self, port: int = 0) -> None:
        self.bodies: list[Any] = []
        self.paths: list[str] = []
        self.authorizations: list[str | None] = []
        self.gets: list[str | None] = []  # the Authorization header of each GET
        self.refuse_with: int | None = None
        self.echo = False
        self.refused = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.authorizations.append(self.headers.get("Authorization"))
                if receiver.refuse_with is not None:
                    receiver.refused += 1
                    self.send_response(receiver.refuse_with)
                    self.end_headers()
                    reply = "not now"
                    if receiver.echo:
                        reply += f" {self.path} {self.headers.get('Authorization')}"
                    self.wfile.write(reply.encode())
                    return
                receiver.bodies.append(json.loads(body))
                receiver.paths.append(self.path)
                self.send_response(200)
                self.end_headers()

            def do_GET(self) -> None:  # noqa: N802 (as a naive receiver: any request is OK)
                receiver.gets.append(self.headers.get("Authorization"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
