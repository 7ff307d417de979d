"""The dumps are OTLP/JSON as the Collector's file exporter writes it, with the
disorder of a real pipeline: runs split across files, late batches, runs in flight."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

from fleetsignals.generate import GroundTruth
from tests.fixtures.dump_reader import Dump, operation

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
NS = 1_000_000_000


def test_files_are_one_per_minute_of_export_time(fleet: GroundTruth, dump: Dump) -> None:
    names = [p.name for p in dump.files]
    assert all(re.fullmatch(r"traces-20261101T\d{4}\.jsonl", n) for n in names)
    assert len(names) == len(set(names)) > 300  # 6 h: nearly every minute has a file
    assert dump.files == fleet.files


def test_lines_are_export_requests_batched_per_resource(dump: Dump) -> None:
    merged = 0
    for line in dump.lines:
        assert set(line) == {"resourceSpans"}
        instances = []
        for rs in line["resourceSpans"]:
            keys = {a["key"] for a in rs["resource"]["attributes"]}
            assert {"service.name", "deployment.environment.name", "telemetry.sdk.name",
                    "telemetry.sdk.language", "telemetry.sdk.version"} <= keys  # fmt: skip
            instances.append(next(a for a in rs["resource"]["attributes"]
                                  if a["key"] == "service.instance.id")["value"]["stringValue"])  # fmt: skip
            scopes = [ss["scope"]["name"] for ss in rs["scopeSpans"]]
            assert len(scopes) == len(set(scopes)) and all(scopes)
            assert all(ss["spans"] for ss in rs["scopeSpans"])
        assert len(instances) == len(set(instances))  # one resourceSpans per process
        merged += len(instances) > 1
    assert merged > 0  # the Collector's batch processor merged some requests


def test_spans_use_canonical_proto_json(dump: Dump) -> None:
    ids = Counter(s.span_id for s in dump.spans)
    assert max(ids.values()) == 1
    for s in dump.spans:
        assert HEX32.match(s.trace_id) and HEX16.match(s.span_id)
        assert s.parent_id is None or HEX16.match(s.parent_id)
        assert s.kind in (1, 3)
        assert s.status in (0, 1, 2)
        assert s.start_ns <= s.end_ns
    raw = dump.lines[0]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert isinstance(raw["startTimeUnixNano"], str) and isinstance(raw["kind"], int)
    int_attrs = [a for a in raw["attributes"] if "intValue" in a["value"]]
    assert all(isinstance(a["value"]["intValue"], str) for a in int_attrs)


def test_spans_are_written_after_they_end(fleet: GroundTruth, dump: Dump) -> None:
    def unix_ns(moment: datetime) -> int:
        return int(moment.replace(tzinfo=UTC).timestamp()) * NS

    for s in dump.spans:
        minute = datetime.strptime(dump.files[s.file_index].name[7:20], "%Y%m%dT%H%M")
        assert s.end_ns <= unix_ns(minute + timedelta(minutes=1))
    assert max(s.end_ns for s in dump.spans) < unix_ns(fleet.end)
    assert min(s.start_ns for s in dump.spans) >= unix_ns(fleet.start)


def test_parent_links_and_root_ends_last(fleet: GroundTruth, dump: Dump) -> None:
    complete = 0
    for spans in dump.by_trace().values():
        roots = [s for s in spans if s.parent_id is None]
        assert len(roots) <= 1
        if not roots:
            continue
        root = roots[0]
        assert operation(root) == "agent"
        assert all(root.start_ns <= s.start_ns and s.end_ns <= root.end_ns for s in spans)
        by_id = {s.span_id: s for s in spans}
        # Long finished runs have every span written: each parent is in the trace.
        if root.file_index < len(dump.files) - 5:
            complete += 1
            for s in spans:
                if s.parent_id is not None:
                    parent = by_id[s.parent_id]
                    assert parent.start_ns <= s.start_ns and s.end_ns <= parent.end_ns
    assert complete > 1000


def test_runs_are_split_and_arrive_out_of_order(dump: Dump) -> None:
    traces = dump.by_trace()
    split = sum(1 for spans in traces.values() if len({s.file_index for s in spans}) > 1)
    assert split / len(traces) > 0.1
    # A delayed batch: a child lands in a later file than its run's root.
    late = 0
    for spans in traces.values():
        root = next((s for s in spans if s.parent_id is None), None)
        if root and any(s.file_index > root.file_index for s in spans):
            late += 1
    assert late > 0
    # Within a file, lines are not in span-end order across resources either.
    ends = defaultdict(list)
    for s in dump.spans:
        ends[s.file_index].append(s.end_ns)
    assert any(v != sorted(v) for v in ends.values())


def test_runs_in_flight_at_the_end_have_no_root(fleet: GroundTruth, dump: Dump) -> None:
    traces = dump.by_trace()
    no_root = [t for t, spans in traces.items() if all(s.parent_id for s in spans)]
    assert no_root
    last_files = {
        t for t, spans in traces.items() if max(s.file_index for s in spans) >= len(dump.files) - 3
    }
    stuck = set(fleet.incident("stuck_runs").run_ids)
    # Rootless runs are the ones still running at the end, or stuck runs that hung.
    assert set(no_root) <= last_files | stuck


def test_both_vocabularies_and_non_step_spans(dump: Dump) -> None:
    keys = Counter(k for s in dump.spans for k in s.attrs)
    assert keys["gen_ai.operation.name"] > 0
    assert keys["openinference.span.kind"] > 0
    assert (
        keys["gen_ai.usage.cache_read.input_tokens"]
        + keys["llm.token_count.prompt_details.cache_read"]
        > 0
    )
    ops = Counter(operation(s) for s in dump.spans)
    assert ops["llm"] and ops["tool"] and ops["agent"] and ops["other"]
    errors = [s for s in dump.spans if s.status == 2]
    assert errors and any(operation(s) == "tool" for s in errors)
