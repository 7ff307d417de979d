"""Helpers of the receiver tests: a receiver subprocess handle, a bounded HTTP client, waits,
requests and a lake reader."""

from __future__ import annotations

import http.client
import queue
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

TIMEOUT = 20.0  # seconds: every wait on the receiver is bounded by this
T0 = 1_790_000_000_000_000_000
LISTENING = re.compile(r"listening on http://(\S+?):(\d+)/v1/traces")


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class ReceiverProcess:
    process: subprocess.Popen
    host: str
    port: int
    inbox: Path
    lines: list[str] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}/v1/traces"

    def post(
        self,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        path: str = "/v1/traces",
    ) -> Response:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        try:
            connection.request(
                "POST", path, body, {"Content-Type": content_type, **(headers or {})}
            )
            answer = connection.getresponse()
            return Response(answer.status, dict(answer.getheaders()), answer.read())
        finally:
            connection.close()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` and wait (bounded) for the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=TIMEOUT)

    def files(self) -> list[Path]:
        """Every file in the receiver's inbox directory, hidden ones too."""
        return sorted(self.inbox.iterdir()) if self.inbox.is_dir() else []


def pump(stream, lines: list[str], found: queue.Queue) -> None:
    for line in stream:
        lines.append(line)
        match = LISTENING.search(line)
        if match:
            found.put((match.group(1), int(match.group(2))))
    found.put(None)


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def lake_rows(home) -> list[dict]:
    if not list(home.lake.glob("dt=*/hr=*/*.parquet")):
        return []
    with duckdb.connect() as con:
        rel = con.sql(
            "select * from read_parquet(?, hive_partitioning = true) order by span_id",
            params=[str(home.lake / "**" / "*.parquet")],
        )
        return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


def json_request(*span_ids: int, trace: str = "0af7651916cd43dd8448eb211c80319c") -> dict:
    spans = [
        {
            "traceId": trace,
            "spanId": f"{n:016x}",
            "name": f"span {n}",
            "startTimeUnixNano": str(T0),
            "endTimeUnixNano": str(T0 + 1_000_000),
            "attributes": [{"key": "n", "value": {"intValue": str(n)}}],
        }
        for n in span_ids
    ]
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]}
