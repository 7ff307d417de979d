"""A hostile producer's span from the future cannot move the watermark or the build window.

Ingest quarantines such spans (ingest.max_future); these tests land one anyway, as a
lake file written before that bound existed (or with the bound disabled) would, and
check that incremental builds still see the spans landed after it.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from fleetsignals.home import Home
from fleetsignals.ingest.land import land_paths
from fleetsignals.warehouse import build
from tests.fixtures.lakefiles import config_with, span, trace_id, write_spans
from tests.fixtures.warehouses import START, query

YEAR_2200 = datetime(2200, 1, 1)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def statuses(home: Home) -> dict[str, str]:
    return dict(query(home, "select run_id, status from fct_runs"))


def test_a_span_from_the_future_does_not_freeze_incremental_builds(tmp_path: Path) -> None:
    config = config_with(tmp_path)  # stale_after 30m, lookback 2h
    home = Home(tmp_path / "home").ensure()
    write_spans(
        home,
        [
            span("done", "root", at(0), 60, status_code="ok", operation="agent"),
            span("failed", "root", at(1), 30, status_code="error", operation="agent"),
            span("stale", "llm", at(2), 5, parent="root", operation="llm"),  # root never comes
        ],
        "first",
    )
    build(home, config)
    assert statuses(home)[trace_id("stale")] == "running"

    # Ends in 2200, landed at minute 10 (the ingest clock is trusted; the span's is not).
    hostile = span("hostile", "root", YEAR_2200, 1, landed_at=at(10))
    write_spans(home, [hostile], "hostile")
    build(home, config)
    (watermark,) = query(home, "select distinct watermark_at from fct_runs")[0]
    assert watermark == at(10)  # the span counted no later than it landed
    assert statuses(home)[trace_id("stale")] == "running"  # judged at minute 10

    write_spans(
        home,
        [
            span("later", "root", at(40), 60, status_code="ok", operation="agent"),
            span("live", "llm", at(44), 5, parent="root", operation="llm"),  # in flight
        ],
        "later",
    )
    build(home, config)
    got = statuses(home)
    assert got[trace_id("later")] == "ok"  # landed after the hostile span: still built
    assert got[trace_id("live")] == "running"
    assert got[trace_id("stale")] == "timeout"  # 30 minutes quiet at the watermark
    assert (got[trace_id("done")], got[trace_id("failed")]) == ("ok", "error")
    assert got[trace_id("hostile")] == "ok"  # its own run is kept, as sent
    (watermark,) = query(home, "select distinct watermark_at from fct_runs")[0]
    assert watermark == at(44) + timedelta(seconds=5)
    # The 60-minute windows stop at the watermark, not in 2200.
    (last,) = query(home, "select max(window_end_at) from fct_windows_60m")[0]
    assert last <= at(45)


def test_ingest_with_the_future_bound_off_cannot_freeze_builds(tmp_path: Path) -> None:
    """The same through real ingest: the landing time ingest stamps is what bounds a span."""
    config = config_with(tmp_path, "ingest: {max_future: null}\n")
    home = Home(tmp_path / "home").ensure()
    now = time.time_ns()
    minute = 60 * 10**9

    def otlp(trace: int, start_ns: int, root: bool) -> dict:
        parent = {} if root else {"parentSpanId": "ff" * 8}
        return {
            "traceId": f"{trace:032x}", "spanId": f"{trace:016x}", "name": "step",
            "startTimeUnixNano": str(start_ns), "endTimeUnixNano": str(start_ns + 10**9),
            "status": {"code": 1}, **parent,
        }  # fmt: skip

    def land(name: str, *spans: dict) -> None:
        path = tmp_path / "in" / name
        path.parent.mkdir(exist_ok=True)
        message = {"resourceSpans": [{"scopeSpans": [{"spans": list(spans)}]}]}
        path.write_bytes(orjson.dumps(message) + b"\n")
        land_paths([path], home, config, settle_seconds=0)
        build(home, config)

    land("first.jsonl", otlp(1, now - 90 * minute, True), otlp(2, now - 80 * minute, False))
    land("hostile.jsonl", otlp(3, 7_258_118_400 * 10**9, True))  # ends in 2200: lands
    land("later.jsonl", otlp(4, now - 5 * minute, True), otlp(5, now - 2 * minute, False))
    got = dict(query(home, "select run_id, status from fct_runs"))
    assert got == {
        f"{1:032x}": "ok",
        f"{2:032x}": "timeout",
        f"{3:032x}": "ok",
        f"{4:032x}": "ok",  # landed after the span from 2200: built
        f"{5:032x}": "running",
    }


def test_a_span_counts_as_the_copy_deduplication_keeps(tmp_path: Path) -> None:
    """Copies of one span that disagree (a later end, a later landing): the watermark and
    the landing bounds are those of the copy stg_otel__spans keeps (first landed, then
    the least source_sha256), not maxima over the copies."""
    config = config_with(tmp_path)
    home = Home(tmp_path / "home").ensure()
    write_spans(home, [span("early", "root", at(0), 60, landed_at=at(2))], "early")
    build(home, config)

    def copy(end: float, landed: float, sha: str) -> dict:
        return span("x", "root", at(20), (end - 20) * 60, landed_at=at(landed), source_sha256=sha)

    write_spans(home, [copy(28, 30, "b")], "copy-b")  # landed with the kept copy, larger sha
    write_spans(home, [copy(26, 30, "a")], "copy-a")  # the kept copy
    write_spans(home, [copy(39, 40, "c")], "copy-c")  # landed later, ends later
    build(home, config)
    recorded = query(
        home,
        "select watermark_at, landed_through_at, first_landed_at from int_build_watermarks_recorded"
        " order by build_seq desc limit 1",
    )
    deduplicated = query(
        home,
        "select max(least(end_at, landed_at)), max(landed_at), min(landed_at) from stg_otel__spans",
    )
    assert recorded == deduplicated == [(at(26), at(30), at(2))]
