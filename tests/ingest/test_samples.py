"""The public OTLP/JSON samples all land, with the span counts and ids the files hold."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from tests.fixtures.ingest_inputs import SAMPLES, lake_rows

SAMPLE_FILES = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".json", ".jsonl"))


def _hex(raw: str, nbytes: int) -> str:
    if len(raw) == 2 * nbytes:
        return raw.lower()
    return base64.b64decode(raw).hex()


def expected_ids(path: Path) -> set[tuple[str, str]]:
    """(trace_id, span_id) pairs read straight from the file, independently of ingest."""
    text = path.read_bytes()
    try:
        messages = [orjson.loads(text)]
    except orjson.JSONDecodeError:
        messages = [orjson.loads(line) for line in text.splitlines() if line.strip()]
    ids = set()
    for message in messages:
        for resource in message["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    ids.add((_hex(span["traceId"], 16), _hex(span["spanId"], 8)))
    return ids


def test_there_are_four_samples() -> None:
    assert len(SAMPLE_FILES) == 4


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_sample_lands_with_its_ids(path: Path, home, land) -> None:
    summary = land(path)
    expected = expected_ids(path)
    assert summary.files == 1
    assert summary.quarantined == 0
    assert summary.spans == len(expected)
    rows = lake_rows(home)
    assert {(r["trace_id"], r["span_id"]) for r in rows} == expected
    assert len(rows) == len(expected)


def test_all_samples_together(home, land) -> None:
    summary = land(*SAMPLE_FILES)
    expected = set().union(*(expected_ids(p) for p in SAMPLE_FILES))
    assert summary.files == 4
    assert summary.spans == len(expected) == 22
    assert len(lake_rows(home)) == 22


def test_official_example_fields(home, land) -> None:
    land(SAMPLES / "otel-proto_examples_trace.json")
    (row,) = lake_rows(home)
    assert row["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert row["span_id"] == "eee19b7ec3c1b174"
    assert row["parent_span_id"] == "eee19b7ec3c1b173"
    assert row["kind"] == "server"
    assert row["start_ns"] == 1544712660000000000
    assert row["duration_ms"] == 1000.0
    assert row["service_name"] == "my.service"
    assert row["scope_name"] == "my.library"
    assert orjson.loads(row["scope_attributes"]) == {"my.scope.attribute": "some scope attribute"}
    assert orjson.loads(row["attributes"]) == {"my.span.attr": "some value"}
    assert (str(row["dt"]), int(row["hr"])) == ("2018-12-13", 14)  # partition = end time


def test_genai_sample_normalized(home, land) -> None:
    land(SAMPLES / "genai-interlingua_testdata_raw_in.json")
    (row,) = lake_rows(home)
    assert row["operation"] == "llm"
    assert row["model"] == "gpt-4o-mini-2024-07-18"
    assert row["provider"] == "openai"
    assert (row["input_tokens"], row["output_tokens"]) == (412, 27)
    attributes = orjson.loads(row["attributes"])
    assert attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert attributes["gen_ai.request.temperature"] == 0.7
    assert attributes["gen_ai.request.max_tokens"] == 1024


def test_openinference_sample_normalized(home, land) -> None:
    land(SAMPLES / "genai-interlingua_testdata_openinference_in.json")
    (row,) = lake_rows(home)
    assert row["operation"] == "llm"
    assert row["status_code"] == "ok"
    assert row["provider"] == "openai"
    assert row["model"] == "gpt-4o-mini-2024-07-18"
    assert (row["input_tokens"], row["output_tokens"]) == (412, 27)
    assert (row["cache_read_tokens"], row["reasoning_tokens"]) == (256, 8)
