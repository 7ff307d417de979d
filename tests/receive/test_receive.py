"""`fleetsignals receive`: a real subprocess on a loopback port, the real OpenTelemetry SDK
exporter, and `fleetsignals ingest` of the inbox afterwards."""

from __future__ import annotations

import gzip
import os
import signal
import socket
import time

import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from fleetsignals.config import load_config
from fleetsignals.orchestrate.scheduler import Runner
from tests.fixtures.receivefixtures import T0, TIMEOUT, json_request, lake_rows, wait_for


def sdk_spans() -> list:
    """Spans made by the real SDK: an agent span with an LLM call under it."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "sdk-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.receive", "1.0")
    with tracer.start_as_current_span("invoke_agent planner") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent.set_attribute("gen_ai.agent.name", "planner")
        with tracer.start_as_current_span("chat gpt-4o") as llm:
            llm.set_attribute("gen_ai.operation.name", "chat")
            llm.set_attribute("gen_ai.request.model", "gpt-4o")
            llm.set_attribute("gen_ai.usage.input_tokens", 1234)
            llm.set_attribute("gen_ai.request.temperature", 0.5)
            llm.set_attribute("is.cached", True)
    provider.shutdown()
    return list(memory.get_finished_spans())


def ingest(run_cli, home) -> str:
    result = run_cli("ingest", str(home.inbox))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_sdk_exporter_spans_land_with_their_ids_and_attributes(
    start_receiver, run_cli, home, compression
) -> None:
    receiver = start_receiver()
    spans = sdk_spans()
    exporter = OTLPSpanExporter(
        endpoint=receiver.endpoint, timeout=TIMEOUT, compression=compression
    )
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    exporter.shutdown()
    (written,) = [p for p in receiver.files() if not p.name.startswith(".")]
    assert written.name.endswith(".json")
    assert "2 span(s)" in ingest(run_cli, home)
    rows = {r["name"]: r for r in lake_rows(home)}
    agent, llm = rows["invoke_agent planner"], rows["chat gpt-4o"]
    for made in spans:
        row = rows[made.name]
        assert row["trace_id"] == f"{made.context.trace_id:032x}"
        assert row["span_id"] == f"{made.context.span_id:016x}"
        assert row["start_ns"] == made.start_time and row["end_ns"] == made.end_time
    assert llm["parent_span_id"] == agent["span_id"] and agent["parent_span_id"] is None
    assert orjson.loads(llm["attributes"]) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 1234,
        "gen_ai.request.temperature": 0.5,
        "is.cached": True,
    }
    assert (llm["service_name"], llm["scope_name"], llm["kind"]) == (
        "sdk-agent",
        "tests.receive",
        "internal",
    )
    assert llm["model"] == "gpt-4o" and llm["input_tokens"] == 1234


def test_inbox_file_is_otlp_json_with_hex_ids(start_receiver) -> None:
    receiver = start_receiver()
    spans = sdk_spans()
    exporter = OTLPSpanExporter(endpoint=receiver.endpoint, timeout=TIMEOUT)
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    exporter.shutdown()
    (written,) = receiver.files()
    message = orjson.loads(written.read_bytes())
    written_spans = message["resourceSpans"][0]["scopeSpans"][0]["spans"]
    ids = {(s["traceId"], s["spanId"]) for s in written_spans}
    assert ids == {(f"{s.context.trace_id:032x}", f"{s.context.span_id:016x}") for s in spans}


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_json_post_lands(start_receiver, run_cli, home, gzipped) -> None:
    receiver = start_receiver()
    body = orjson.dumps(json_request(1, 2, 3))
    headers = {"Content-Encoding": "gzip"} if gzipped else {}
    answer = receiver.post(gzip.compress(body) if gzipped else body, headers=headers)
    assert answer.status == 200, answer.body
    assert answer.headers["Content-Type"] == "application/json"
    assert orjson.loads(answer.body) == {}
    assert "3 span(s)" in ingest(run_cli, home)
    rows = lake_rows(home)
    assert [r["span_id"] for r in rows] == [f"{n:016x}" for n in (1, 2, 3)]
    assert {r["service_name"] for r in rows} == {"json-svc"}


def test_rejected_spans_are_a_partial_success(start_receiver, run_cli, home) -> None:
    receiver = start_receiver()
    message = json_request(1, 2)
    message["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["traceId"] = "not-an-id"
    answer = receiver.post(orjson.dumps(message))
    assert answer.status == 200
    partial = orjson.loads(answer.body)["partialSuccess"]
    assert partial["rejectedSpans"] == "1" and "trace or span id" in partial["errorMessage"]
    # Protobuf: a trace id of 3 bytes.
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = b"abc", b"12345678", "short id"
    span.start_time_unix_nano, span.end_time_unix_nano = T0, T0 + 1
    answer = receiver.post(request.SerializeToString(), "application/x-protobuf")
    assert answer.status == 200
    response = ExportTraceServiceResponse.FromString(answer.body)
    assert response.partial_success.rejected_spans == 1
    assert "1 span(s)" in ingest(run_cli, home)  # only the good JSON span was written
    assert [r["span_id"] for r in lake_rows(home)] == [f"{1:016x}"]


@pytest.mark.parametrize(
    ("body", "content_type", "encoding"),
    [
        (b"\xff\xff\xff\xff not protobuf", "application/x-protobuf", None),
        (b'{"resourceSpans": [', "application/json", None),
        (b"[1, 2]", "application/json", None),
        (b'{"resourceMetrics": []}', "application/json", None),
        (b'{"resourceSpans": "nope"}', "application/json", None),
        (b"not gzip at all", "application/json", "gzip"),
    ],
    ids=["protobuf", "json", "array", "metrics", "wrong-type", "gzip"],
)
def test_malformed_body_is_400_and_nothing_is_written(
    start_receiver, body, content_type, encoding
) -> None:
    receiver = start_receiver()
    headers = {"Content-Encoding": encoding} if encoding else {}
    answer = receiver.post(body, content_type, headers)
    assert answer.status == 400
    assert answer.headers["Content-Type"] == content_type
    if content_type == "application/json":
        status = orjson.loads(answer.body)
        assert status["code"] == 3 and status["message"]
    assert receiver.files() == []


def test_oversized_body_is_413(start_receiver) -> None:
    receiver = start_receiver("receive: {max_body_mib: 1}\n")
    big = orjson.dumps(json_request(1)) + b" " * (2 << 20)
    assert receiver.post(big).status == 413
    # A small gzip body that expands beyond the limit (a "zip bomb") is refused too.
    bomb = gzip.compress(b'{"resourceSpans": []}' + b" " * (3 << 20))
    assert len(bomb) < 1 << 20
    assert receiver.post(bomb, headers={"Content-Encoding": "gzip"}).status == 413
    assert receiver.files() == []
    assert receiver.post(orjson.dumps(json_request(1))).status == 200  # still serving


def test_unknown_content_type_is_415(start_receiver) -> None:
    receiver = start_receiver()
    body = orjson.dumps(json_request(1))
    assert receiver.post(body, "text/plain").status == 415
    assert receiver.post(body, headers={"Content-Encoding": "br"}).status == 415
    assert receiver.post(body, path="/v1/metrics").status == 404
    assert receiver.files() == []


def test_backlog_is_429_with_retry_after_until_ingest_catches_up(
    start_receiver, run_cli, home
) -> None:
    receiver = start_receiver("receive: {max_backlog_files: 2, retry_after: 7s}\n")
    assert receiver.post(orjson.dumps(json_request(1))).status == 200
    assert receiver.post(orjson.dumps(json_request(2))).status == 200
    refused = receiver.post(orjson.dumps(json_request(3)))
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "7"
    assert "wait for ingest" in orjson.loads(refused.body)["message"]
    assert len(receiver.files()) == 2
    ingest(run_cli, home)
    answers: list[int] = []

    def accepted() -> bool:
        answers.append(receiver.post(orjson.dumps(json_request(3))).status)
        return answers[-1] == 200

    wait_for(accepted, "the receiver to see that ingest landed the backlog")
    assert set(answers) <= {200, 429}


def test_low_disk_is_503_with_retry_after(start_receiver) -> None:
    receiver = start_receiver("receive: {min_free_mib: 1000000000}\n")  # more than any disk
    refused = receiver.post(orjson.dumps(json_request(1)))
    assert refused.status == 503
    assert refused.headers["Retry-After"] == "10"
    assert receiver.files() == []


def _send_head(receiver, body: bytes) -> socket.socket:
    """Open a request, wait until the receiver takes its body (`100 Continue`: it holds a
    slot and counts as in flight), and send the first half of the body."""
    sock = socket.create_connection((receiver.host, receiver.port), timeout=TIMEOUT)
    head = (
        f"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    ).encode()
    sock.sendall(head)
    interim = b""
    while not interim.endswith(b"\r\n\r\n"):
        block = sock.recv(1)
        assert block, "the receiver hung up"
        interim += block
    assert interim.startswith(b"HTTP/1.1 100"), interim
    sock.sendall(body[: len(body) // 2])
    return sock


def test_sigterm_finishes_the_request_in_flight_and_exits_0(start_receiver, run_cli, home) -> None:
    receiver = start_receiver()
    idle = socket.create_connection((receiver.host, receiver.port), timeout=TIMEOUT)  # keep-alive
    body = orjson.dumps(json_request(1, 2))
    sock = _send_head(receiver, body)
    receiver.process.send_signal(signal.SIGTERM)
    time.sleep(0.3)  # not needed for the outcome: lets the stop begin before the body ends
    sock.sendall(body[len(body) // 2 :])
    answer = sock.recv(65536)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert receiver.stop() == 0  # the idle connection does not hold it up
    idle.close()
    assert [p.name.startswith(".") for p in receiver.files()] == [False]
    assert "2 span(s)" in ingest(run_cli, home)


def test_sigkill_mid_request_leaves_nothing_ingest_would_land(
    start_receiver, run_cli, home
) -> None:
    receiver = start_receiver()
    sock = _send_head(receiver, orjson.dumps(json_request(1, 2)))
    assert receiver.stop(signal.SIGKILL) == -signal.SIGKILL
    sock.close()
    assert [p for p in receiver.files() if not p.name.startswith(".")] == []
    # What a kill between write and rename would leave: a hidden temporary file. Neither
    # `fleetsignals ingest` nor the scheduler's inbox scan picks it up.
    tmp = receiver.inbox / f".otlp-x.json.tmp-{os.getpid()}"
    tmp.write_bytes(orjson.dumps(json_request(1, 2)) + b"\n")
    assert "0 file(s) landed" in ingest(run_cli, home)
    config = load_config(None)
    assert Runner(home, config).inbox_files() == []
    # The next receiver sweeps old temporaries before serving.
    old = time.time() - 3600
    os.utime(tmp, (old, old))
    start_receiver()
    assert not tmp.exists()


def test_json_in_snake_case_with_an_all_zero_parent_is_a_root_span(
    start_receiver, run_cli, home
) -> None:
    receiver = start_receiver()
    span = {
        "trace_id": "0AF7651916CD43DD8448EB211C80319C",
        "span_id": "b7ad6b7169203331",
        "parent_span_id": "0000000000000000",
        "name": "root",
        "start_time_unix_nano": T0,
        "end_time_unix_nano": T0 + 5,
    }
    message = {"resource_spans": [{"scope_spans": [{"spans": [span]}]}]}
    answer = receiver.post(orjson.dumps(message))
    assert (answer.status, orjson.loads(answer.body)) == (200, {})
    ingest(run_cli, home)
    (row,) = lake_rows(home)
    assert row["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert row["parent_span_id"] is None


def test_more_requests_in_flight_than_allowed_is_503(start_receiver) -> None:
    receiver = start_receiver("receive: {max_in_flight: 1}\n")
    body = orjson.dumps(json_request(1, 2))
    slow = _send_head(receiver, body)  # holds the only slot while its body trickles in
    refused = receiver.post(orjson.dumps(json_request(3)))
    assert refused.status == 503 and refused.headers["Retry-After"] == "10"
    slow.sendall(body[len(body) // 2 :])
    assert slow.recv(65536).startswith(b"HTTP/1.1 200")
    slow.close()
    assert receiver.post(orjson.dumps(json_request(3))).status == 200


def test_expect_continue_is_refused_before_the_body_is_sent(start_receiver) -> None:
    receiver = start_receiver("receive: {max_body_mib: 1}\n")
    sock = socket.create_connection((receiver.host, receiver.port), timeout=TIMEOUT)
    sock.sendall(
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 5000000\r\nExpect: 100-continue\r\n\r\n"
    )
    answer = sock.recv(65536)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer


def test_landed_files_are_deleted_after_delete_landed_after(start_receiver, run_cli, home) -> None:
    receiver = start_receiver("receive: {delete_landed_after: 0s}\n")
    assert receiver.post(orjson.dumps(json_request(1))).status == 200
    (first,) = receiver.files()
    assert receiver.post(orjson.dumps(json_request(2))).status == 200
    assert first.exists()  # not landed yet: kept
    ingest(run_cli, home)
    unlanded: list[int] = []

    def first_deleted() -> bool:  # the inbox is rescanned on requests, at most once a second
        assert receiver.post(orjson.dumps(json_request(len(unlanded) + 3))).status == 200
        unlanded.append(1)
        return not first.exists()

    wait_for(first_deleted, "the landed file to be deleted")
    assert len(lake_rows(home)) == 2  # its spans are in the lake


def test_landed_files_are_kept_with_delete_landed_after_null(start_receiver, run_cli, home) -> None:
    receiver = start_receiver("receive: {delete_landed_after: null}\n")
    assert receiver.post(orjson.dumps(json_request(1))).status == 200
    (first,) = receiver.files()
    ingest(run_cli, home)
    time.sleep(1.1)  # past the rescan interval
    assert receiver.post(orjson.dumps(json_request(2))).status == 200
    assert first.exists()


def test_a_bearer_token_is_required_when_configured_and_read_at_each_request(
    start_receiver, tmp_path
) -> None:
    token_file = tmp_path / "otlp-token"
    token_file.write_text("first-token-7f3a\n")
    receiver = start_receiver(f"receive:\n  authorization:\n    credentials_file: {token_file}\n")
    body = orjson.dumps(json_request(1, 2))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "first-token-7f3a"}):
        answer = receiver.post(body, headers=headers)
        assert answer.status == 401, headers
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert orjson.loads(answer.body)["code"] == 16
    assert receiver.files() == []
    exporter = OTLPSpanExporter(
        endpoint=receiver.endpoint,
        timeout=TIMEOUT,
        headers={"Authorization": "Bearer first-token-7f3a"},
    )
    assert exporter.export(sdk_spans()) == SpanExportResult.SUCCESS
    exporter.shutdown()
    assert len(receiver.files()) == 1
    token_file.write_text("second-token-91c2")  # rotated: no restart needed
    assert receiver.post(body, headers={"Authorization": "Bearer first-token-7f3a"}).status == 401
    assert receiver.post(body, headers={"Authorization": "Bearer second-token-91c2"}).status == 200
    assert len(receiver.files()) == 2
    assert receiver.stop() == 0
    logged = "".join(receiver.lines)
    assert "401" in logged
    assert "first-token" not in logged and "second-token" not in logged


def test_authorization_config_errors_name_the_option_not_the_value(run_process, tmp_path) -> None:
    config = tmp_path / "bad.yml"
    for section, expected in (
        ("{credentials: s3cret-value, credentials_file: /x}", "give only one"),
        ("{credentials_file: /nonexistent/token}", "cannot read the file"),
        ("{type: Basic, credentials: s3cret-value}", "Bearer only"),
        ("s3cret-value", "must be a mapping"),
    ):
        config.write_text(f"receive:\n  authorization: {section}\n")
        args = ("--config", str(config), "receive", "--listen", "127.0.0.1:0")
        result = run_process(*args, timeout=TIMEOUT)
        assert result.returncode == 1
        assert expected in result.stderr and "s3cret" not in result.stderr + result.stdout
