"""OTLP/HTTP receiver throughput: requests and spans per second acknowledged (written and
fsynced to the inbox), protobuf and JSON, from concurrent keep-alive clients.

    .venv/bin/python bench/receive.py                       # 200 requests of 512 spans each
    .venv/bin/python bench/receive.py --requests 500 --clients 8

Each request is one SDK batch (512 spans by default, the BatchSpanProcessor's batch
size) of GenAI-instrumented spans. The receiver runs as a real subprocess on a loopback
port with a temporary home. Prints requests/s, spans/s, MB/s of bodies, and the
median and 99th percentile latency. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

T0 = 1_790_000_000_000_000_000


def batch(spans: int, seed: int) -> ExportTraceServiceRequest:
    rnd = random.Random(seed)
    request = ExportTraceServiceRequest()
    resource = request.resource_spans.add()
    kv = resource.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "bench-agent"
    scope = resource.scope_spans.add()
    scope.scope.name = "bench"
    for n in range(spans):
        span = scope.spans.add()
        span.trace_id = rnd.randbytes(16)
        span.span_id = rnd.randbytes(8)
        span.name = "chat gpt-4o"
        span.kind = 3
        span.start_time_unix_nano = T0 + n * 1_000_000
        span.end_time_unix_nano = T0 + n * 1_000_000 + 800_000_000
        for key, value in (
            ("gen_ai.operation.name", "chat"),
            ("gen_ai.request.model", "gpt-4o"),
            ("gen_ai.agent.name", "planner"),
            ("tenant.id", f"t{rnd.randint(1, 9)}"),
        ):
            kv = span.attributes.add()
            kv.key, kv.value.string_value = key, value
        kv = span.attributes.add()
        kv.key, kv.value.int_value = "gen_ai.usage.input_tokens", rnd.randint(1, 5000)
    return request


def start(home: Path) -> tuple[subprocess.Popen, int]:
    exe = Path(sys.executable).with_name("fleetsignals")
    config = home.parent / "bench.yml"
    config.write_text("receive: {max_backlog_files: 0, max_backlog_mib: 0}\n")
    process = subprocess.Popen(
        [
            str(exe),
            "--home",
            str(home),
            "--config",
            str(config),
            "receive",
            "--listen",
            "127.0.0.1:0",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    for line in process.stderr:
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
        if match:
            threading.Thread(target=process.stderr.read, daemon=True).start()
            return process, int(match.group(1))
    raise SystemExit("the receiver did not start")


def run(port: int, body: bytes, content_type: str, requests: int, clients: int) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    left = [requests]

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if left[0] == 0:
                    break
                left[0] -= 1
            started = time.perf_counter()
            connection.request("POST", "/v1/traces", body, {"Content-Type": content_type})
            answer = connection.getresponse()
            answer.read()
            assert answer.status == 200, answer.status
            with lock:
                latencies.append(time.perf_counter() - started)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--spans", type=int, default=512)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    request = batch(args.spans, seed=1)
    bodies = {
        "application/x-protobuf": request.SerializeToString(),
        "application/json": orjson.dumps(json_format.MessageToDict(request)),
    }
    with tempfile.TemporaryDirectory() as tmp:
        process, port = start(Path(tmp) / "home")
        try:
            for content_type, body in bodies.items():
                started = time.perf_counter()
                latencies = run(port, body, content_type, args.requests, args.clients)
                seconds = time.perf_counter() - started
                latencies.sort()
                print(
                    f"{content_type:24} {args.requests / seconds:7.1f} req/s "
                    f"{args.requests * args.spans / seconds:9.0f} spans/s "
                    f"{args.requests * len(body) / seconds / 1e6:6.1f} MB/s "
                    f"(body {len(body) / 1e3:.0f} kB); latency p50 "
                    f"{statistics.median(latencies) * 1e3:.0f} ms, p99 "
                    f"{latencies[int(0.99 * (len(latencies) - 1))] * 1e3:.0f} ms"
                )
        finally:
            process.terminate()
            process.wait(timeout=60)


if __name__ == "__main__":
    main()
