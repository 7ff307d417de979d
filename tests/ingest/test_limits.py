"""Hostile producers: implausible span times are quarantined, attributes are bounded."""

from __future__ import annotations

import time

import orjson
import pytest

from fleetsignals.errors import FleetsignalsError
from fleetsignals.home import Home
from fleetsignals.ingest.land import land_paths
from fleetsignals.ingest.manifest import read_manifest
from tests.fixtures.ingest_inputs import T0, attr, jsonl, lake_rows, request, span, write

YEAR_2200_NS = 7_258_118_400_000_000_000
MINUTE_NS = 60 * 1_000_000_000


def land_spans(land, tmp_path, spans: list[dict], config_text: str = "", name: str = "in.jsonl"):
    return land(write(tmp_path / name, jsonl([request(spans)])), config_text=config_text)


def reason_of(home, summary) -> dict:
    (reason,) = summary.reasons
    return orjson.loads((home.root / reason).read_bytes())


def rejects_of(home, reason: dict) -> list[dict]:
    path = home.quarantine / reason["content"]
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def names(home) -> list[str]:
    return sorted(r["name"] for r in lake_rows(home))


def test_span_from_the_future_is_quarantined_the_rest_lands(home, land, tmp_path) -> None:
    future = span(1, 1, start_ns=YEAR_2200_NS, attributes=[attr("gen_ai.agent.name", "x")])
    summary = land_spans(land, tmp_path, [span(1, 0), future, span(1, 2)])
    assert (summary.spans, summary.quarantined, summary.rejected) == (2, 1, 1)
    assert names(home) == ["span 0", "span 2"]
    assert not list(home.lake.glob("dt=2200-*"))  # no partition from the future either
    reason = reason_of(home, summary)
    (entry,) = read_manifest(home.manifest)
    error = reason["first_problems"][0]["error"]
    assert error.startswith("end time in the future: 2200-01-01T00:00:00Z")
    assert f"after its file landed at {entry['landed_at']}" in error  # judged at landing
    assert reason["problems_by_kind"] == {"end time in the future": 1}
    (reject,) = rejects_of(home, reason)
    record = orjson.loads(reject["record"])  # the span as it would have landed: nothing lost
    assert record["name"] == "span 1" and record["attributes"] == {"gen_ai.agent.name": "x"}
    assert record["resource_attributes"] == {"service.name": "svc"}
    assert record["end_ns"] == YEAR_2200_NS + 1_000_000


def test_cli_exits_non_zero_for_a_span_from_the_future(home, run_cli, tmp_path) -> None:
    path = write(tmp_path / "in.jsonl", jsonl([request([span(1, 0, start_ns=YEAR_2200_NS)])]))
    result = run_cli("ingest", str(path))
    assert result.exit_code == 1
    assert "quarantined" in result.output


def test_clock_skew_within_the_bound_lands(home, land, tmp_path) -> None:
    ahead = span(1, 0, start_ns=time.time_ns() + 20 * MINUTE_NS)
    summary = land_spans(land, tmp_path, [ahead])
    assert (summary.spans, summary.quarantined) == (1, 0)
    summary = land_spans(
        land, tmp_path, [span(2, 0, start_ns=time.time_ns() + 20 * MINUTE_NS)],
        config_text="ingest: {max_future: 10m}", name="two.jsonl",
    )  # fmt: skip
    assert (summary.spans, summary.quarantined) == (0, 1)


def test_future_bound_can_be_disabled(home, land, tmp_path) -> None:
    summary = land_spans(
        land, tmp_path, [span(1, 0, start_ns=YEAR_2200_NS)], "ingest: {max_future: null}"
    )
    assert (summary.spans, summary.quarantined) == (1, 0)


def test_old_spans_land_by_default_and_a_past_bound_quarantines_them(home, land, tmp_path) -> None:
    old = span(1, 0, start_ns=1_514_764_800_000_000_000)  # 2018-01-01: a backfill
    assert land_spans(land, tmp_path, [old]).spans == 1
    summary = land_spans(
        land, tmp_path, [span(2, 0, start_ns=T0), span(2, 1, start_ns=time.time_ns())],
        "ingest: {max_past: 30d}", name="two.jsonl",
    )  # fmt: skip
    assert (summary.spans, summary.rejected) == (1, 1)
    error = reason_of(home, summary)["first_problems"][0]["error"]
    assert error.startswith("start time too far in the past: 2026-09-21T14:13:20Z")


def test_absurd_duration_is_quarantined(home, land, tmp_path) -> None:
    forever = span(1, 1, start_ns=1_000_000_000, duration_ns=T0 - 1_000_000_000)
    week = span(1, 2, start_ns=T0, duration_ns=6 * 24 * 60 * MINUTE_NS)
    summary = land_spans(land, tmp_path, [span(1, 0), forever, week])
    assert (summary.spans, summary.rejected) == (2, 1)
    assert names(home) == ["span 0", "span 2"]
    error = reason_of(home, summary)["first_problems"][0]["error"]
    assert error.startswith("duration too long: 1789999999s, more than ingest.max_duration (7d)")


def test_a_file_of_only_implausible_spans_is_quarantined_whole(home, land, tmp_path) -> None:
    summary = land_spans(land, tmp_path, [span(1, 0, start_ns=YEAR_2200_NS)])
    assert (summary.files, summary.spans, summary.quarantined) == (0, 0, 1)
    assert "end time in the future" in reason_of(home, summary)["error"]


def test_invalid_bound_is_a_one_line_error(home, land, tmp_path) -> None:
    with pytest.raises(FleetsignalsError, match="config ingest.max_future: invalid duration"):
        land_spans(land, tmp_path, [span(1, 0)], "ingest: {max_future: soon}")


# --- attribute limits -------------------------------------------------------------------


def test_long_value_is_cut_in_the_lake_and_kept_whole(home, land, tmp_path, config) -> None:
    attributes = [attr("gen_ai.prompt", "x" * 500), attr("gen_ai.request.model", "gpt-4o")]
    summary = land_spans(
        land, tmp_path, [span(1, 0, attributes=attributes), span(1, 1)],
        "ingest: {attribute_value_length_limit: 100}",
    )  # fmt: skip
    assert (summary.spans, summary.rejected, summary.cut, summary.quarantined) == (2, 0, 1, 1)
    assert "1 span(s) landed with attributes cut" in summary.line()
    row = next(r for r in lake_rows(home) if r["name"] == "span 0")
    landed = orjson.loads(row["attributes"])
    assert landed["gen_ai.prompt"] == "x" * 100 + "…[cut by fleetsignals: 500 characters]"
    assert landed["gen_ai.request.model"] == "gpt-4o" and row["model"] == "gpt-4o"
    reason = reason_of(home, summary)
    assert (reason["problems"], reason["landed_cut"]) == (0, 1)
    (reject,) = rejects_of(home, reason)
    assert reject["landed"] is True and reject["error"].startswith("attributes cut in the lake")
    # The record is an OTLP message holding the whole span: landing it again (say with a
    # higher limit) gives the span whole.
    again = Home(tmp_path / "again")
    write(tmp_path / "fix" / "record.jsonl", reject["record"].encode() + b"\n")
    fixed = land_paths([tmp_path / "fix"], again, config())
    assert (fixed.spans, fixed.quarantined) == (1, 0)
    (row,) = lake_rows(again)
    assert orjson.loads(row["attributes"])["gen_ai.prompt"] == "x" * 500
    assert (row["trace_id"], row["span_id"], row["service_name"]) == (
        f"{1:032x}",
        f"{1:016x}",
        "svc",
    )


def test_normal_llm_span_stays_whole_and_a_huge_value_is_cut(home, land, tmp_path) -> None:
    prompt = "p" * 300_000  # a big prompt: normal for LLM spans
    huge = "h" * 3_000_000  # over the default limit (1 MiB characters)
    spans = [
        span(1, 0, attributes=[attr("gen_ai.prompt", prompt)]),
        span(1, 1, attributes=[attr("gen_ai.completion", huge)]),
    ]
    summary = land_spans(land, tmp_path, spans)
    assert (summary.spans, summary.cut) == (2, 1)
    rows = {r["name"]: orjson.loads(r["attributes"]) for r in lake_rows(home)}
    assert rows["span 0"]["gen_ai.prompt"] == prompt
    assert rows["span 1"]["gen_ai.completion"].startswith("h" * 1_048_576 + "…[cut")


def test_attribute_count_limit(home, land, tmp_path) -> None:
    many = [attr(f"k{i:03}", i) for i in range(50)]
    events = [{"name": f"e{i}", "timeUnixNano": str(T0), "attributes": many} for i in range(30)]
    array = {
        "key": "list",
        "value": {"arrayValue": {"values": [{"intValue": i} for i in range(99)]}},
    }
    spans = [span(1, 0, attributes=[*many, array], events=events), span(1, 1)]
    message = request(spans, resource=[attr("service.name", "svc"), *many])
    summary = land(
        write(tmp_path / "in.jsonl", jsonl([message])),
        config_text="ingest: {attribute_count_limit: 10}",
    )
    assert (summary.spans, summary.rejected, summary.cut) == (2, 0, 2)  # the resource: both
    row = next(r for r in lake_rows(home) if r["name"] == "span 0")
    attributes = orjson.loads(row["attributes"])
    assert list(attributes) == [f"k{i:03}" for i in range(10)]
    assert len(orjson.loads(row["resource_attributes"])) == 10
    landed_events = orjson.loads(row["events"])
    assert len(landed_events) == 10 and all(len(e["attributes"]) == 10 for e in landed_events)
    reject = rejects_of(home, reason_of(home, summary))[0]
    whole = orjson.loads(reject["record"])["resourceSpans"][0]
    assert len(whole["resource"]["attributes"]) == 51
    (sent,) = whole["scopeSpans"][0]["spans"][:1]
    assert len(sent["attributes"]) == 51 and len(sent["events"]) == 30


def test_a_control_character_cannot_forge_the_cut_mark(home, land, tmp_path) -> None:
    value = "\x01{} not cut"
    summary = land_spans(land, tmp_path, [span(1, 0, attributes=[attr("a", value)])])
    assert (summary.spans, summary.cut, summary.quarantined) == (1, 0, 0)
    (row,) = lake_rows(home)
    assert orjson.loads(row["attributes"]) == {"a": value}


def test_fast_and_checked_conversions_agree() -> None:
    """Lists too short to break a limit skip the checks: both paths must convert alike."""
    from fleetsignals.ingest.parse import redactor
    from fleetsignals.ingest.values import NO_LIMITS, _Converter, attributes_json

    nested = {"kvlistValue": {"values": [attr("inner", 1), {"key": "no value"}]}}
    items = [
        attr("s", "text ✓"), attr("i", 2**62), attr("d", 1.0), attr("b", True),
        {"key": "big", "value": {"intValue": str(2**70)}},
        {"key": "nan", "value": {"doubleValue": "NaN"}},
        {"key": "bytes", "value": {"bytesValue": "AAEC"}},
        {"key": "list", "value": {"arrayValue": {"values": [{"stringValue": "a"}, nested]}}},
        {"key": "odd", "value": {"arrayValue": {"values": {"not": "a list"}}}},
        {"key": "kv", "value": nested}, {"key": "secret", "value": {"stringValue": "x"}},
        {"key": "empty", "value": {}}, "not an item", {"key": 5},
        # The single-stringValue shortcut of plain_attributes must not catch these:
        {"key": "null first", "value": {"stringValue": None, "intValue": "7"}},
        {"key": "int first", "value": {"intValue": "8", "stringValue": "x"}},
        {"key": "null only", "value": {"stringValue": None}},
        {"key": "not a str", "value": {"stringValue": 5}},
        {"key": "snake", "value": {"string_value": "s"}},
        {"key": "unit sep", "value": {"stringValue": "a\u001fb\x1f\u00e9\U0001f600"}},
        {"key": "1e16", "value": {"doubleValue": 1e16}},
        {"key": "2**64", "value": {"intValue": str(2**64)}},
        {"key": "-2**63-1", "value": {"intValue": str(-(2**63) - 1)}},
        {"key": "s", "value": {"stringValue": "the later of a repeated key"}},
    ]  # fmt: skip
    raw = orjson.dumps(items).decode()
    redact = redactor(["secret"])
    fast = attributes_json(raw, redact, NO_LIMITS)
    converter = _Converter(NO_LIMITS, redact)  # the checked path, forced
    assert converter.json(converter.attributes(items)) == fast
    assert "secret" not in orjson.loads(fast) and orjson.loads(fast)["odd"] == []
    plain = orjson.loads(fast)
    assert (plain["null first"], plain["int first"], plain["null only"]) == (7, 8, None)
    assert (plain["not a str"], list(plain)[0]) == (5, "s")  # a repeated key: first place,
    assert plain["s"] == "the later of a repeated key"  # last value
    # A member sent twice (JSON parsers keep the last: both paths see the same object), and
    # a number beyond uint64 that only JSON text can hold.
    twice = (
        '[{"key": "k", "value": {"stringValue": "a", "stringValue": "b"}},'
        ' {"key": "n", "value": {"intValue": 18446744073709551616}}]'
    )
    converter = _Converter(NO_LIMITS, None)
    assert attributes_json(twice) == converter.json(converter.attributes(orjson.loads(twice)))
