"""One test per tolerance rule of the contract's "Input" section."""

from __future__ import annotations

import base64
import struct

import orjson
import pytest
import zstandard

from tests.fixtures.ingest_inputs import T0, attr, gz, jsonl, lake_rows, request, span, write


def one_row(home, land, tmp_path, message, name="in.jsonl", config_text=""):
    summary = land(write(tmp_path / name, jsonl([message])), config_text=config_text)
    assert summary.quarantined == 0, summary.reasons
    (row,) = lake_rows(home)
    return row


def test_snake_case_keys(home, land, tmp_path) -> None:
    message = {
        "resource_spans": [
            {
                "resource": {"attributes": [attr("service.name", "snake")]},
                "scope_spans": [
                    {
                        "scope": {"name": "s"},
                        "spans": [
                            {
                                "trace_id": "0af7651916cd43dd8448eb211c80319c",
                                "span_id": "b7ad6b7169203331",
                                "parent_span_id": "00f067aa0ba902b7",
                                "name": "n",
                                "start_time_unix_nano": str(T0),
                                "end_time_unix_nano": str(T0 + 5),
                                "attributes": [
                                    {"key": "k", "value": {"string_value": "v"}},
                                    {"key": "i", "value": {"int_value": "3"}},
                                ],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    row = one_row(home, land, tmp_path, message)
    assert row["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert row["parent_span_id"] == "00f067aa0ba902b7"
    assert row["end_ns"] == T0 + 5
    assert row["service_name"] == "snake"
    assert orjson.loads(row["attributes"]) == {"k": "v", "i": 3}


def test_instrumentation_library_spans(home, land, tmp_path) -> None:
    message = {
        "resourceSpans": [
            {
                "resource": {"attributes": []},
                "instrumentationLibrarySpans": [
                    {
                        "instrumentationLibrary": {"name": "old-lib", "version": "0.9"},
                        "spans": [span(1, 0)],
                    }
                ],
            }
        ]
    }
    row = one_row(home, land, tmp_path, message)
    assert (row["scope_name"], row["scope_version"]) == ("old-lib", "0.9")


def test_int64_as_number_or_string(home, land, tmp_path) -> None:
    s = span(1, 0, attributes=[{"key": "n", "value": {"intValue": 42}}])
    s["startTimeUnixNano"] = T0  # numbers, not strings
    s["endTimeUnixNano"] = T0 + 2_000_000
    row = one_row(home, land, tmp_path, request([s]))
    assert (row["start_ns"], row["end_ns"], row["duration_ms"]) == (T0, T0 + 2_000_000, 2.0)
    assert orjson.loads(row["attributes"]) == {"n": 42}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [(2, "server"), ("SPAN_KIND_CLIENT", "client"), (5, "consumer"), (0, "unspecified")],
)
def test_kind_as_integer_or_name(home, land, tmp_path, kind, expected) -> None:
    row = one_row(home, land, tmp_path, request([span(1, 0, kind=kind)]))
    assert row["kind"] == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (2, "error"),
        ("STATUS_CODE_ERROR", "error"),
        (1, "ok"),
        ("STATUS_CODE_OK", "ok"),
        (0, "unset"),
    ],
)
def test_status_as_integer_or_name(home, land, tmp_path, code, expected) -> None:
    message = request([span(1, 0, status={"code": code, "message": "boom"})])
    row = one_row(home, land, tmp_path, message)
    assert (row["status_code"], row["status_message"]) == (expected, "boom")


def test_ids_upper_case_hex(home, land, tmp_path) -> None:
    s = span(1, 0, traceId="5B8EFFF798038103D269B633813FC60C", spanId="EEE19B7EC3C1B174")
    row = one_row(home, land, tmp_path, request([s]))
    assert (row["trace_id"], row["span_id"]) == (
        "5b8efff798038103d269b633813fc60c",
        "eee19b7ec3c1b174",
    )


def test_ids_base64(home, land, tmp_path) -> None:
    trace, span_id, parent = bytes(range(1, 17)), bytes(range(20, 28)), bytes(range(30, 38))
    s = span(
        1,
        0,
        traceId=base64.b64encode(trace).decode(),
        spanId=base64.b64encode(span_id).decode(),
        parentSpanId=base64.b64encode(parent).decode(),
    )
    row = one_row(home, land, tmp_path, request([s]))
    assert (row["trace_id"], row["span_id"], row["parent_span_id"]) == (
        trace.hex(),
        span_id.hex(),
        parent.hex(),
    )


def test_empty_parent_id_is_root(home, land, tmp_path) -> None:
    row = one_row(home, land, tmp_path, request([span(1, 0, parentSpanId="")]))
    assert row["parent_span_id"] is None


def test_unknown_fields_ignored(home, land, tmp_path) -> None:
    s = span(1, 0, droppedAttributesCount=3, flags=257, futureField={"x": [1, 2]})
    message = request([s])
    message["resourceSpans"][0]["schemaUrl"] = "https://opentelemetry.io/schemas/1.26.0"
    message["somethingNew"] = True
    row = one_row(home, land, tmp_path, message)
    assert row["span_id"] == f"{1:016x}"


def test_every_attribute_kind_kept_losslessly(home, land, tmp_path) -> None:
    attributes = [
        {"key": "s", "value": {"stringValue": 'quote " and \\ and \u00e9'}},
        {"key": "i", "value": {"intValue": "9007199254740993"}},  # beyond double precision
        {"key": "d", "value": {"doubleValue": 1.0}},
        {"key": "d2", "value": {"doubleValue": 2.5e-7}},
        {"key": "nan", "value": {"doubleValue": "NaN"}},
        {"key": "b", "value": {"boolValue": False}},
        {"key": "bytes", "value": {"bytesValue": "AQID"}},
        {
            "key": "arr",
            "value": {
                "arrayValue": {
                    "values": [
                        {"stringValue": "a"},
                        {"intValue": "1"},
                        {"arrayValue": {"values": []}},
                    ]
                }
            },
        },
        {
            "key": "kv",
            "value": {
                "kvlistValue": {
                    "values": [
                        {"key": "x", "value": {"doubleValue": 3}},
                        {"key": "y", "value": {"kvlistValue": {"values": []}}},
                    ]
                }
            },
        },
        {"key": "empty", "value": {}},
    ]
    row = one_row(home, land, tmp_path, request([span(1, 0, attributes=attributes)]))
    text = row["attributes"]
    assert orjson.loads(text) == {
        "s": 'quote " and \\ and \u00e9',
        "i": 9007199254740993,
        "d": 1.0,
        "d2": 2.5e-7,
        "nan": "NaN",
        "b": False,
        "bytes": "AQID",
        "arr": ["a", 1, []],
        "kv": {"x": 3.0, "y": {}},
        "empty": None,
    }
    assert '"d":1.0' in text  # a double stays a double (not the integer 1)
    import duckdb

    with duckdb.connect() as con:
        types = con.execute(
            "select json_type(?, '$.i'), json_type(?, '$.d'), json_type(?, '$.kv.x')",
            [text, text, text],
        ).fetchone()
    assert types == ("UBIGINT", "DOUBLE", "DOUBLE")


def test_events_and_links_kept(home, land, tmp_path) -> None:
    s = span(
        1,
        0,
        events=[
            {
                "timeUnixNano": str(T0 + 10),
                "name": "exception",
                "attributes": [
                    attr("exception.type", "ValueError"),
                    attr("exception.message", "bad"),
                ],
            }
        ],
        links=[
            {
                "traceId": "5B8EFFF798038103D269B633813FC60C",
                "spanId": "EEE19B7EC3C1B174",
                "attributes": [attr("link.kind", "retry")],
            }
        ],
    )
    row = one_row(home, land, tmp_path, request([s]))
    assert orjson.loads(row["events"]) == [
        {
            "name": "exception",
            "time_ns": T0 + 10,
            "attributes": {"exception.type": "ValueError", "exception.message": "bad"},
        }
    ]
    assert orjson.loads(row["links"]) == [
        {
            "trace_id": "5b8efff798038103d269b633813fc60c",
            "span_id": "eee19b7ec3c1b174",
            "trace_state": None,
            "attributes": {"link.kind": "retry"},
        }
    ]


def test_pretty_printed_document(home, land, tmp_path) -> None:
    spans = [span(1, i) for i in range(3)]
    text = orjson.dumps(request(spans), option=orjson.OPT_INDENT_2)
    assert text.count(b"\n") > 20
    summary = land(write(tmp_path / "doc.json", text))
    assert (summary.spans, summary.quarantined) == (3, 0)


def test_several_messages_per_file_and_blank_lines(home, land, tmp_path) -> None:
    data = jsonl([request([span(1, 0)]), request([span(2, 1), span(2, 2)])])
    data = b"\n" + data.replace(b"\n", b"\r\n\n", 1) + b"   \n"
    summary = land(write(tmp_path / "in.jsonl", data))
    assert (summary.spans, summary.quarantined) == (3, 0)


@pytest.mark.parametrize("form", ["lines", "document", "gzip"])
def test_byte_order_mark_is_ignored(home, land, tmp_path, form) -> None:
    """Windows tools (PowerShell's Out-File, some editors) start UTF-8 files with a BOM."""
    messages = [request([span(1, 0), span(1, 1)]), request([span(2, 2)])]
    data = b"\xef\xbb\xbf" + jsonl(messages)
    if form == "document":
        data = b"\xef\xbb\xbf" + orjson.dumps(request([span(1, 0)]), option=orjson.OPT_INDENT_2)
    summary = land(write(tmp_path / "in.json", gz(data) if form == "gzip" else data))
    assert (summary.spans, summary.quarantined) == (1 if form == "document" else 3, 0)


def _compressed_inputs(data: bytes) -> dict[str, bytes]:
    compressor = zstandard.ZstdCompressor()
    lines = data.splitlines()
    framed = b"".join(
        struct.pack(">I", len(frame)) + frame
        for frame in (compressor.compress(line) for line in lines)
    )
    # A plain stream of several frames, as the Collector's native compression flushes them.
    multi = b"".join(compressor.compress(line + b"\n") for line in lines)
    return {
        "gzip": gz(data),
        "zstd": compressor.compress(data),
        "zstd-multi": multi,
        "zstd-framed": framed,
    }


@pytest.mark.parametrize("form", ["gzip", "zstd", "zstd-multi", "zstd-framed"])
@pytest.mark.parametrize("name", ["traces.bin", "traces.json"])  # detected by magic, not name
def test_compressed_inputs(home, land, tmp_path, form, name) -> None:
    data = jsonl([request([span(1, 0), span(1, 1)]), request([span(2, 2)])])
    summary = land(write(tmp_path / name, _compressed_inputs(data)[form]))
    assert (summary.spans, summary.quarantined) == (3, 0), summary.reasons
    assert {r["span_id"] for r in lake_rows(home)} == {f"{i + 1:016x}" for i in range(3)}


def test_directories_are_walked_recursively(home, land, tmp_path) -> None:
    write(tmp_path / "in" / "a.jsonl", jsonl([request([span(1, 0)])]))
    write(tmp_path / "in" / "deep" / "er" / "b.jsonl.gz", gz(jsonl([request([span(2, 1)])])))
    summary = land(tmp_path / "in")
    assert (summary.files, summary.spans) == (2, 2)


def test_partitioned_by_end_hour(home, land, tmp_path) -> None:
    hour = 3_600_000_000_000
    spans = [span(1, 0, start_ns=T0), span(1, 1, start_ns=T0, duration_ns=2 * hour)]
    land(write(tmp_path / "in.jsonl", jsonl([request(spans)])))
    files = sorted(p.relative_to(home.lake).parent.as_posix() for p in home.lake.rglob("*.parquet"))
    assert files == ["dt=2026-09-21/hr=14", "dt=2026-09-21/hr=16"]
