"""Bad input: each kind is quarantined with its reason (source, error, line); the rest lands."""

from __future__ import annotations

import os
import struct

import orjson
import pytest
import zstandard

from tests.fixtures.ingest_inputs import gz, jsonl, lake_rows, request, span, write

GOOD = [request([span(1, 0), span(1, 1)]), request([span(2, 2)])]


def reason_of(home, summary) -> dict:
    (reason,) = summary.reasons
    return orjson.loads((home.root / reason).read_bytes())


def rejects_of(home, reason: dict) -> list[dict]:
    path = home.quarantine / reason["content"]
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def land_lines(land, tmp_path, lines: list[bytes], name="in.jsonl"):
    return land(write(tmp_path / name, b"\n".join(lines) + b"\n"))


def good_lines() -> list[bytes]:
    return [orjson.dumps(m) for m in GOOD]


def assert_good_landed(home, extra: int = 0) -> None:
    ids = {r["span_id"] for r in lake_rows(home)}
    assert {f"{i + 1:016x}" for i in range(3)} <= ids
    assert len(ids) == 3 + extra


def test_truncated_json_line(home, land, tmp_path) -> None:
    lines = good_lines()
    truncated = lines[0][: len(lines[0]) // 2]
    summary = land_lines(land, tmp_path, [lines[0], truncated, lines[1]])
    assert (summary.files, summary.spans, summary.quarantined, summary.rejected) == (1, 3, 1, 1)
    reason = reason_of(home, summary)
    assert reason["source"] == str((tmp_path / "in.jsonl").resolve())
    assert reason["whole_file"] is False
    assert reason["first_problems"][0]["line"] == 2
    # Cut inside a string, the line's newline ends the string: "unexpected control
    # character" would send the user looking for a bad byte. Say what happened.
    assert reason["first_problems"][0]["error"].startswith("truncated JSON: the record stops")
    (reject,) = rejects_of(home, reason)
    assert reject["line"] == 2 and reject["record"] == truncated.decode()
    assert_good_landed(home)


def test_truncated_last_line_of_a_file(home, land, tmp_path) -> None:
    data = jsonl(GOOD)
    summary = land(write(tmp_path / "in.jsonl", data[:-40]))  # cut inside the last message
    assert (summary.spans, summary.rejected) == (2, 1)
    (problem,) = reason_of(home, summary)["first_problems"]
    assert problem["line"] == 2
    assert problem["error"].startswith("truncated JSON: the record stops mid-value after")


@pytest.mark.parametrize(
    "cut", [b'{"resourceSpans": [{"resource": {"attributes": [{"key": "service.na', b'{"a": 12']
)
def test_a_line_cut_anywhere_says_truncated(home, land, tmp_path, cut) -> None:
    summary = land(write(tmp_path / "in.jsonl", jsonl(GOOD) + cut))
    (problem,) = reason_of(home, summary)["first_problems"]
    assert problem["line"] == 3 and problem["error"].startswith("truncated JSON")


def test_malformed_json_is_not_called_truncated(home, land, tmp_path) -> None:
    summary = land_lines(land, tmp_path, [good_lines()[0], b'{"a": 1}}', good_lines()[1]])
    (problem,) = reason_of(home, summary)["first_problems"]
    assert problem["error"].startswith("invalid JSON: unexpected content after document")


@pytest.mark.parametrize("fraction", [0.5, 0.99])
def test_truncated_pretty_document_is_one_reason(home, land, tmp_path, fraction) -> None:
    """A pretty-printed document cut short: one whole-file reason that says truncated,
    not a per-line error for each of its hundreds of lines."""
    data = orjson.dumps(request([span(1, i) for i in range(40)]), option=orjson.OPT_INDENT_2)
    summary = land(write(tmp_path / "doc.json", data[: int(len(data) * fraction)]))
    assert (summary.files, summary.spans, summary.quarantined) == (0, 0, 1)
    reason = reason_of(home, summary)
    assert reason["whole_file"] is True
    assert reason["error"].startswith("truncated JSON: the document stops mid-value after")
    assert lake_rows(home) == []


def test_malformed_pretty_document_is_one_reason(home, land, tmp_path) -> None:
    data = orjson.dumps(request([span(1, i) for i in range(40)]), option=orjson.OPT_INDENT_2)
    broken = data.replace(b'"spanId"', b'"spanId" "x"', 1)
    summary = land(write(tmp_path / "doc.json", broken))
    reason = reason_of(home, summary)
    assert reason["whole_file"] is True
    assert reason["error"].startswith("invalid JSON document: unexpected character")


def test_binary_garbage_file(home, land, tmp_path) -> None:
    garbage = os.urandom(4096).replace(b"\x1f\x8b", b"..").replace(b"\x28\xb5", b"..")
    path = write(tmp_path / "garbage.jsonl", b"\x00\x01" + garbage)
    summary = land(path)
    assert (summary.files, summary.spans, summary.quarantined) == (0, 0, 1)
    reason = reason_of(home, summary)
    assert reason["whole_file"] is True
    assert (home.quarantine / reason["content"]).read_bytes() == path.read_bytes()
    assert lake_rows(home) == []


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (b'{"resourceMetrics": [{"resource": {}}]}', "not OTLP trace data"),
        (b"[1, 2, 3]", "not OTLP trace data"),
        (b'"just a string"', "not OTLP trace data"),
        (b'{"resourceSpans": "nope"}', "not OTLP trace data"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 5}]}]}]}', "invalid trace id"),
    ],
)
def test_valid_json_that_is_not_otlp(home, land, tmp_path, record, expected) -> None:
    summary = land_lines(land, tmp_path, [good_lines()[0], record, good_lines()[1]])
    assert (summary.spans, summary.quarantined, summary.rejected) == (3, 1, 1)
    problem = reason_of(home, summary)["first_problems"][0]
    assert problem["line"] == 2 and expected in problem["error"]


def test_empty_messages_are_fine(home, land, tmp_path) -> None:
    summary = land_lines(land, tmp_path, [b"{}", b'{"resourceSpans": []}', good_lines()[0]])
    assert (summary.spans, summary.quarantined) == (2, 0)


def test_corrupt_gzip_is_quarantined_whole(home, land, tmp_path) -> None:
    data = gz(jsonl(GOOD * 50))
    summary = land(write(tmp_path / "cut.jsonl.gz", data[: len(data) // 2]))
    assert (summary.files, summary.spans, summary.quarantined) == (0, 0, 1)
    reason = reason_of(home, summary)
    assert reason["whole_file"] and "corrupt gzip" in reason["error"]
    mangled = bytearray(data)
    mangled[30:60] = b"x" * 30
    summary = land(write(tmp_path / "mangled.jsonl.gz", bytes(mangled)))
    assert (summary.spans, summary.quarantined) == (0, 1)
    assert lake_rows(home) == []


@pytest.mark.parametrize("damage", ["truncated", "garbage", "framed-truncated", "framed-garbage"])
def test_corrupt_zstd_is_quarantined_whole(home, land, tmp_path, damage) -> None:
    data = jsonl(GOOD * 50)
    compressor = zstandard.ZstdCompressor()
    if damage == "truncated":
        blob = compressor.compress(data)
        blob = blob[: len(blob) // 2]
    elif damage == "garbage":
        blob = compressor.compress(data)[:4] + os.urandom(200)
    else:
        frames = [compressor.compress(line) for line in data.splitlines()]
        blob = b"".join(struct.pack(">I", len(f)) + f for f in frames)
        blob = blob[:-7] if damage == "framed-truncated" else blob[:8] + b"\x00" * 40 + blob[48:]
    summary = land(write(tmp_path / "in.zst", blob))
    assert (summary.files, summary.spans, summary.quarantined) == (0, 0, 1)
    assert "corrupt zstd" in reason_of(home, summary)["error"]
    assert lake_rows(home) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"traceId": "zz" * 16}, "invalid trace id"),
        ({"traceId": "abc"}, "invalid trace id"),
        ({"traceId": "0" * 32}, "invalid trace id (all zero)"),
        ({"traceId": ""}, "missing trace id"),
        ({"spanId": "12345"}, "invalid span id"),
        ({"parentSpanId": "not-an-id"}, "invalid parent span id"),
        ({"startTimeUnixNano": "yesterday"}, "unparseable start time"),
        ({"endTimeUnixNano": None}, "unparseable end time"),
        ({"startTimeUnixNano": "2000", "endTimeUnixNano": "1000"}, "end before start"),
    ],
)
def test_bad_span_is_quarantined_alone(home, land, tmp_path, change, expected) -> None:
    bad = span(3, 9)
    bad.update(change)
    message = request([span(1, 0), bad, span(1, 1)])
    summary = land_lines(land, tmp_path, [orjson.dumps(message), good_lines()[1]])
    assert (summary.spans, summary.quarantined, summary.rejected) == (3, 1, 1)
    reason = reason_of(home, summary)
    problem = reason["first_problems"][0]
    assert problem["line"] == 1 and expected in problem["error"]
    (reject,) = rejects_of(home, reason)
    assert orjson.loads(reject["record"])["name"] == "span 9"  # the span itself is kept
    assert_good_landed(home)


def test_invalid_utf8_line(home, land, tmp_path) -> None:
    bad = orjson.dumps(request([span(4, 5, name="x")])).replace(b'"x"', b'"\xff\xfe"')
    summary = land_lines(land, tmp_path, [good_lines()[0], bad, good_lines()[1]])
    assert (summary.spans, summary.quarantined, summary.rejected) == (3, 1, 1)
    problem = reason_of(home, summary)["first_problems"][0]
    assert problem["line"] == 2 and "invalid UTF-8" in problem["error"]


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_file_is_not_an_error(home, land, tmp_path, content) -> None:
    summary = land(write(tmp_path / "empty.jsonl", content))
    assert (summary.files, summary.spans, summary.quarantined) == (1, 0, 0)


def test_cli_exit_status_and_summary(home, run_cli, tmp_path) -> None:
    good = write(tmp_path / "good.jsonl", jsonl(GOOD))
    result = run_cli("ingest", str(good))
    assert result.exit_code == 0, result.output
    assert "1 file(s) landed, 3 span(s)" in result.output
    bad = write(tmp_path / "bad.jsonl", b"{nope\n")
    result = run_cli("ingest", str(bad), str(good))
    assert result.exit_code == 1
    assert "1 already landed (skipped); 1 quarantined" in result.output
    # The reason is on stderr, not only in the sidecar file it names.
    (line,) = [ln for ln in result.stderr.splitlines() if ln.startswith("quarantined:")]
    assert f"{bad.resolve()}: invalid JSON document: unexpected character" in line
    assert line.endswith(".reason.json)")


def test_cli_missing_path(home, run_cli, tmp_path) -> None:
    result = run_cli("ingest", str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 2
    assert "does not exist" in result.output
