"""Input shapes users send besides JSON lines: JSON arrays of requests, Jaeger API responses,
and the messages for times out of range and for content quarantined before."""

from __future__ import annotations

import orjson
import pytest

from tests.fixtures.ingest_inputs import T0, attr, gz, jsonl, lake_rows, request, span, write


def requests(count: int, per: int = 2) -> tuple[list[dict], set[tuple[str, str]]]:
    """``count`` requests of ``per`` spans each, with distinct ids, and those ids."""
    messages = []
    ids = set()
    for r in range(count):
        spans = [span(r + 1, n, attributes=[attr("request.no", r)]) for n in range(per)]
        ids |= {(s["traceId"], s["spanId"]) for s in spans}
        messages.append(request(spans))
    return messages, ids


def landed_ids(home) -> set[tuple[str, str]]:
    return {(r["trace_id"], r["span_id"]) for r in lake_rows(home)}


@pytest.mark.parametrize(
    "dump",
    [
        lambda doc: orjson.dumps(doc, option=orjson.OPT_INDENT_2),
        lambda doc: orjson.dumps(doc),  # the whole array on one line
        lambda doc: b"[\n" + b",\n".join(orjson.dumps(m) for m in doc) + b"\n]\n",
        lambda doc: gz(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"),
    ],
    ids=["pretty", "one-line", "element-per-line", "pretty-gz"],
)
def test_json_array_of_requests_lands_every_span(home, land, tmp_path, dump) -> None:
    messages, ids = requests(3)
    summary = land(write(tmp_path / "demo.json", dump(messages)))
    assert summary.quarantined == 0, summary.reasons
    assert (summary.files, summary.spans) == (1, 6)
    assert landed_ids(home) == ids
    rows = lake_rows(home)
    assert {orjson.loads(r["attributes"])["request.no"] for r in rows} == {0, 1, 2}


def test_json_array_of_one_element_on_its_own_line(home, land, tmp_path) -> None:
    messages, ids = requests(1)  # its second line is JSON on its own, its first is not
    summary = land(write(tmp_path / "one.json", b"[\n" + orjson.dumps(messages[0]) + b"\n]\n"))
    assert (summary.quarantined, summary.spans) == (0, 2)
    assert landed_ids(home) == ids


def test_json_array_bad_element_is_set_aside_by_its_number(home, land, tmp_path) -> None:
    messages, ids = requests(2)
    document = [messages[0], {"resourceMetrics": []}, messages[1]]
    summary = land(
        write(tmp_path / "demo.json", orjson.dumps(document, option=orjson.OPT_INDENT_2))
    )
    assert (summary.files, summary.spans, summary.rejected) == (1, 4, 1)
    assert landed_ids(home) == ids
    (rejects,) = home.quarantine.glob("*.rejects.jsonl")
    (problem,) = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert problem["line"] == 2 and "not OTLP trace data" in problem["error"]


def test_json_lines_with_a_bad_array_line_stay_json_lines(home, land, tmp_path) -> None:
    messages, ids = requests(2)
    summary = land(write(tmp_path / "in.jsonl", b"[1, 2]\n" + jsonl(messages)))
    assert (summary.spans, summary.rejected) == (4, 1)
    assert landed_ids(home) == ids


@pytest.mark.parametrize("shape", ["lines", "document", "array"])
def test_jaeger_result_wrapper_lands_every_span(home, land, tmp_path, shape) -> None:
    messages, ids = requests(2)
    wrapped = [{"result": m} for m in messages]
    if shape == "lines":  # api/v3 streams one response per line
        data = jsonl(wrapped)
    elif shape == "document":  # one pretty-printed response holding both requests' spans
        both = request(
            [s for m in messages for s in m["resourceSpans"][0]["scopeSpans"][0]["spans"]]
        )
        data = orjson.dumps({"result": both}, option=orjson.OPT_INDENT_2)
    else:
        data = orjson.dumps(wrapped, option=orjson.OPT_INDENT_2)
    summary = land(write(tmp_path / "jaeger.json", data))
    assert summary.quarantined == 0, summary.reasons
    assert summary.spans == 4
    assert landed_ids(home) == ids


def test_result_key_inside_attributes_is_left_alone(home, land, tmp_path) -> None:
    s = span(1, 0, attributes=[attr("result", '{"result": 1}')])
    summary = land(write(tmp_path / "in.jsonl", jsonl([request([s])])))
    assert summary.quarantined == 0
    (row,) = lake_rows(home)
    assert orjson.loads(row["attributes"]) == {"result": '{"result": 1}'}


@pytest.mark.parametrize("field", ["startTimeUnixNano", "endTimeUnixNano"])
def test_time_above_int64_is_out_of_range(home, land, tmp_path, field) -> None:
    too_big = str(2**64 - 1)  # valid for OTLP's fixed64, beyond the lake's int64
    bad = span(1, 0, **{field: too_big})
    good = span(1, 1, start_ns=T0)
    summary = land(write(tmp_path / "in.jsonl", jsonl([request([bad, good])])))
    assert (summary.spans, summary.rejected) == (1, 1)
    (rejects,) = home.quarantine.glob("*.rejects.jsonl")
    (problem,) = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    which = "start" if field.startswith("start") else "end"
    assert problem["error"] == f'out of range {which} time "{too_big}"'


def test_garbage_time_is_still_unparseable(home, land, tmp_path) -> None:
    bad = span(1, 0, startTimeUnixNano="soon")
    summary = land(write(tmp_path / "in.jsonl", jsonl([request([bad, span(1, 1)])])))
    assert summary.rejected == 1
    (rejects,) = home.quarantine.glob("*.rejects.jsonl")
    assert "unparseable start time" in rejects.read_text()


def test_reingest_of_quarantined_file_says_so(home, run_cli, tmp_path) -> None:
    bad = write(tmp_path / "bad.jsonl", b"garbage\n")
    first = run_cli("ingest", str(bad))
    assert first.exit_code == 1
    again = run_cli("ingest", str(bad))
    assert again.exit_code == 1
    assert "0 already landed (skipped); 0 quarantined; 1 quarantined before (skipped)" in (
        again.stdout
    )
    (sidecar,) = home.quarantine.glob("bad.jsonl.*.reason.json")
    assert f"quarantined before, not retried: see {sidecar}" in again.stderr
